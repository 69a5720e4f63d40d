/**
 * `node:zlib` for the browser: the torch.save reader (engine/io/torchSave/zipArchive.ts) inflates
 * deflated zip records with it. torch.save itself stores records uncompressed, so the page reads
 * every file PyTorch writes; a re-packed, deflated one is refused with this message. Without
 * `crc32` here the reader uses its own table loop.
 */
export function inflateRawSync(): never {
  throw new Error('this page reads torch.save files as PyTorch writes them (stored records); a deflated (re-packed) one needs the command line');
}
