/** Where the Vulkan loader looks for drivers, and the check that keeps Dawn from printing its no-driver warning. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasVulkanDriver, vulkanIcdFolders } from './dawn-node.js';

describe('Vulkan driver discovery (no Vulkan instance is created)', () => {
  const root = mkdtempSync(join(tmpdir(), 'nnunet-icd-'));
  const base = { HOME: join(root, 'home'), XDG_CONFIG_DIRS: join(root, 'xdg'), XDG_DATA_DIRS: join(root, 'share') };

  it("follows the loader's Linux search order", () => {
    expect(vulkanIcdFolders(base)).toEqual([
      join(root, 'home/.config/vulkan/icd.d'), join(root, 'xdg/vulkan/icd.d'), '/etc/vulkan/icd.d',
      join(root, 'home/.local/share/vulkan/icd.d'), join(root, 'share/vulkan/icd.d'),
    ]);
    expect(vulkanIcdFolders({ HOME: '/h' })).toContain('/usr/share/vulkan/icd.d');
  });

  it('a manifest in a searched folder counts; an empty folder or a missing named file does not', () => {
    const env = { ...base, XDG_DATA_DIRS: join(root, 'share') };
    mkdirSync(join(root, 'share/vulkan/icd.d'), { recursive: true });
    // an empty folder: only a manifest in the fixed /etc/vulkan/icd.d (none on CI or here) could count
    const etc = existsSync('/etc/vulkan/icd.d') && readdirSync('/etc/vulkan/icd.d').some((f) => f.endsWith('.json'));
    expect(hasVulkanDriver(env)).toBe(etc);
    writeFileSync(join(root, 'share/vulkan/icd.d/nvidia_icd.json'), '{}');
    expect(hasVulkanDriver(env)).toBe(true);
    expect(hasVulkanDriver({ ...env, VK_ICD_FILENAMES: join(root, 'missing.json') })).toBe(false);
    expect(hasVulkanDriver({ ...base, VK_DRIVER_FILES: join(root, 'share/vulkan/icd.d/nvidia_icd.json') })).toBe(true);
  });
});
