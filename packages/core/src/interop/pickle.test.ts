import { describe, expect, it } from 'vitest';
import { NnunetError } from '../util/errors.js';
import { PyDict, toPlain, unpickle } from './pickle.js';
import { checkpointGlobals } from './torch-checkpoint.js';
import { readNpy, writeNpy } from './npy.js';
import { readNnunetPostprocessingPkl } from './postprocessing-pkl.js';

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));
const text = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

// pickle.dumps({'a': [1, -2, 2.5, None, True, 'x', (1, 2)], 3: b'\x00\x01', 'big': 2**70, 'neg': -300, 'u': 'é', 's': {1}}, protocol=p)
const P2 =
  '80027d71002858010000006171015d7102284b014afeffffff4740040000000000004e8858010000007871034b014b02867104654b03635f636f646563730a656e636f64650a710558020000000001710658060000006c6174696e3171078671085271095803000000626967710a8a0900000000000000004058030000006e6567710b4ad4feffff580100000075710c5802000000c3a9710d580100000073710e635f5f6275696c74696e5f5f0a7365740a710f5d71104b0161857111527112752e';
const P4 =
  '8004955f000000000000007d94288c0161945d94284b014afeffffff4740040000000000004e888c0178944b014b028694654b0343020001948c03626967948a090000000000000000408c036e6567944ad4feffff8c0175948c02c3a9948c0173948f94284b0190752e';

describe('restricted unpickler', () => {
  for (const [name, bytes] of [['protocol 2', P2], ['protocol 4', P4]] as const) {
    it(`reads plain data written by CPython (${name})`, () => {
      const v = unpickle(hex(bytes), { globals: checkpointGlobals() });
      expect(v).toBeInstanceOf(PyDict);
      const d = v as PyDict;
      expect(toPlain(d.get('a')!)).toEqual([1, -2, 2.5, null, true, 'x', [1, 2]]);
      expect(d.get(3)).toEqual(Uint8Array.from([0, 1]));
      expect(d.get('big')).toBe(2n ** 70n);
      expect(d.get('neg')).toBe(-300);
      expect(d.get('u')).toBe('é');
      expect([...(d.get('s') as Set<number>)]).toEqual([1]);
    });
  }

  it('keeps OrderedDict order', () => {
    const v = unpickle(hex('800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000006271024b0158010000006171034b02752e'), { globals: checkpointGlobals() });
    expect([...(v as PyDict).keys()]).toEqual(['b', 'a']);
  });

  it("refuses a global outside the allow-list (os.system) without calling anything, naming it", () => {
    const evil = text("cos\nsystem\n(S'echo pwned'\ntR.");
    expect(() => unpickle(evil, { globals: checkpointGlobals(), file: 'evil.pth' })).toThrow(/refusing global 'os\.system'.*evil\.pth|evil\.pth.*refusing global 'os\.system'/);
  });

  it('refuses builtins.eval via STACK_GLOBAL and unknown opcodes', () => {
    const stackGlobal = hex('80048c086275696c74696e73948c046576616c949394.'.replace('.', '2e'));
    expect(() => unpickle(stackGlobal, { globals: checkpointGlobals() })).toThrow(/refusing global 'builtins\.eval'/);
    expect(() => unpickle(hex('8002ff2e'), { globals: checkpointGlobals() })).toThrow(NnunetError);
    expect(() => unpickle(hex('80025d'), { globals: checkpointGlobals() })).toThrow(/unexpected end/);
  });

  it('refuses persistent ids when no loader is given', () => {
    expect(() => unpickle(hex('8002580100000030512e'), { globals: checkpointGlobals() })).toThrow(/persistent ids are not allowed/);
  });
});

describe('.npy', () => {
  it('round-trips float32 [2, 3] and reads the header shape', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, -6.5]);
    const back = readNpy(writeNpy({ descr: '<f4', shape: [2, 3], data }));
    expect(back.shape).toEqual([2, 3]);
    expect([...back.data]).toEqual([1, 2, 3, 4, 5, -6.5]);
  });
  it('refuses a file that is not .npy', () => {
    expect(() => readNpy(text('hello world'), 'x.npy')).toThrow(/x\.npy.*bad magic/);
  });
});

describe("nnU-Net's postprocessing.pkl", () => {
  it('reads (pp_fns, pp_fn_kwargs) as keep-largest steps without importing the functions', () => {
    // pickle.dumps(([f, f], [{'labels_or_regions': [1, 2]}, {'labels_or_regions': 2}])) with f nnU-Net's
    // remove_all_but_largest_component_from_segmentation (pickled by reference)
    const pkl = hex(
      '800495a0000000000000005d94288c336e6e756e657476322e706f737470726f63657373696e672e72656d6f76655f636f6e6e65637465645f636f6d706f6e656e7473948c3272656d6f76655f616c6c5f6275745f6c6172676573745f636f6d706f6e656e745f66726f6d5f7365676d656e746174696f6e9493946803655d94287d948c116c6162656c735f6f725f726567696f6e73945d94284b014b0265737d9468064b02736586942e',
    );
    const plan = readNnunetPostprocessingPkl(pkl, 'postprocessing.pkl');
    expect(plan.postprocessing_fns).toEqual([
      { name: 'remove_all_but_largest_component_from_segmentation', kwargs: { labels_or_regions: [1, 2] } },
      { name: 'remove_all_but_largest_component_from_segmentation', kwargs: { labels_or_regions: 2 } },
    ]);
  });
});
