// Package chunker splits a byte stream into content-defined chunks with
// normalized FastCDC (Xia et al., 2016/2020), so that an insertion or deletion
// in a file changes only the chunks around the edit and the rest deduplicate.
//
// Boundaries are chosen by a gear rolling hash, h = (h << 1) + gear[b], whose
// 256-entry table is derived from a secret seed (NewGear): without the seed an
// observer of chunk sizes cannot fingerprint known content. The hash is 64
// bits wide, so every cut decision depends on exactly the 64 bytes that end
// at the candidate position.
//
// Normalization level 2 is used: from Min up to Avg bytes a cut needs
// log2(Avg)+2 zero bits (harder), past Avg only log2(Avg)-2 (easier), and no
// chunk is longer than Max. The first Min bytes of each chunk are not
// examined; hashing starts 64 bytes before Min so that the hash is already a
// pure function of the content window at the first candidate. Because of
// the skipped prefix the mean chunk size on random data is about 1.13×Avg
// (DefaultParams: ~1.12 MiB).
package chunker
