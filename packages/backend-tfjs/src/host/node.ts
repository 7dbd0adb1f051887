import { existsSync, readdirSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';

/** Node (`#host`, condition `node`): the first CPU's model name, for backend descriptions. */
export function cpuModel(): string {
  return cpus()[0]?.model.trim() ?? 'cpu';
}

/**
 * Whether the Vulkan loader would find a driver manifest (`VK_DRIVER_FILES` / `VK_ICD_FILENAMES`, or a `*.json` in
 * a `vulkan/icd.d` folder of `$XDG_CONFIG_HOME`, `$XDG_CONFIG_DIRS`, `/etc`, `$XDG_DATA_HOME`, `$XDG_DATA_DIRS`:
 * the Khronos loader's Linux search order). Without one, Dawn only prints "vkCreateInstance: Found no drivers!".
 */
export function vulkanDriverListed(env = process.env): boolean {
  const named = [env['VK_DRIVER_FILES'], env['VK_ICD_FILENAMES'], env['VK_ADD_DRIVER_FILES']].filter((v): v is string => !!v);
  if (named.length) return named.some((v) => v.split(':').some((f) => f && existsSync(f)));
  if (process.platform !== 'linux') return true; // Metal / D3D12: nothing to check
  const home = env['HOME'] ?? homedir();
  const dirs = [env['XDG_CONFIG_HOME'] || join(home, '.config'), ...(env['XDG_CONFIG_DIRS'] || '/etc/xdg').split(':'), '/etc',
    env['XDG_DATA_HOME'] || join(home, '.local/share'), ...(env['XDG_DATA_DIRS'] || '/usr/local/share:/usr/share').split(':')];
  return dirs.some((d) => {
    try {
      return readdirSync(join(d, 'vulkan', 'icd.d')).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

