import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import chromiumPackage from '@sparticuz/chromium';
import { type Browser, chromium } from 'playwright-core';
import { extract } from 'tar-fs';

export interface Chromium {
  readonly browser: Browser;
  close(): Promise<void>;
}

/**
 * Launches the headless Chromium that the `@sparticuz/chromium` package ships
 * inside itself (brotli-compressed: the browser, its fonts, its software GL
 * and the shared libraries it links against), so the browser test needs
 * nothing but `npm install`: no system browser and no download.
 *
 * Each launch unpacks into a fresh temporary folder (a few seconds), so
 * concurrent runs never read a half-written binary, and removes it on close.
 * `CHROMIUM_PATH` points at another Chromium instead.
 */
export async function launchChromium(): Promise<Chromium> {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    const browser = await chromium.launch({ executablePath: given, args: ['--no-sandbox'] });
    return { browser, close: () => browser.close() };
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `@sparticuz/chromium ships a Chromium for linux-x64 only, not ${process.platform}-${process.arch}: set CHROMIUM_PATH to a Chromium or Chrome binary`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'edge-ratelimit-chromium-'));
  try {
    // The package exports only its entry (build/cjs/index.cjs); its compressed files are in bin/ beside build/.
    const bin = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '../../bin');
    const executablePath = join(dir, 'chromium');
    await Promise.all([
      pipeline(createReadStream(join(bin, 'chromium.br')), createBrotliDecompress(), createWriteStream(executablePath, { mode: 0o700 })),
      // The software GL libraries sit beside the binary, where Chromium looks for them.
      pipeline(createReadStream(join(bin, 'swiftshader.tar.br')), createBrotliDecompress(), extract(dir)),
      pipeline(createReadStream(join(bin, 'fonts.tar.br')), createBrotliDecompress(), extract(join(dir, 'fonts'))),
      pipeline(createReadStream(join(bin, 'al2023.tar.br')), createBrotliDecompress(), extract(join(dir, 'al2023'))),
    ]);
    // The shipped fonts.conf names /tmp/fonts; this one names the fonts where they were unpacked.
    writeFileSync(
      join(dir, 'fonts/fonts.conf'),
      `<?xml version="1.0"?>\n<fontconfig><dir>${join(dir, 'fonts/fonts')}</dir><cachedir>${join(dir, 'fonts-cache')}</cachedir></fontconfig>\n`,
    );
    const browser = await chromium.launch({
      executablePath,
      // Not --single-process: in one process, closing a test's last page ends the browser for the tests after it.
      args: chromiumPackage.args.filter((arg: string) => arg !== '--single-process'),
      // NSS and expat from the package, so the host needs none of its own; its fonts, and a home inside the folder.
      env: {
        ...process.env,
        LD_LIBRARY_PATH: [join(dir, 'al2023/lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
        FONTCONFIG_PATH: join(dir, 'fonts'),
        HOME: dir,
      },
    });
    return {
      browser,
      close: async () => {
        await browser.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
