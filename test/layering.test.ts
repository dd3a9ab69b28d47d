// The folder rules of DESIGN.md, checked on every import: the runtime never pulls the compiler in.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const MAY_IMPORT: Record<string, string[]> = {
  ir: ['ir'],
  grammar: ['ir', 'grammar'],
  passes: ['ir', 'passes'],
  backends: ['ir', 'backends'],
  runtime: ['ir', 'runtime'],
  compiler: ['ir', 'grammar', 'passes', 'backends', 'compiler', 'runtime'],
};

function* sources(dir: string): Generator<string> {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) yield* sources(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

describe('layering', () => {
  for (const [folder, allowed] of Object.entries(MAY_IMPORT)) {
    it(`${folder}/ imports only ${allowed.join(', ')}`, () => {
      const bad: string[] = [];
      let dir: string;
      try { dir = join(ROOT, folder); statSync(dir); } catch { return; }
      for (const file of sources(dir)) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
          const spec = m[1] ?? m[2]!;
          const target = relative(ROOT, resolve(dirname(file), spec)).split('/')[0]!;
          if (!allowed.includes(target)) bad.push(`${relative(ROOT, file)} imports ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
