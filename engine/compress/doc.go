// Package compress compresses chunk payloads with zstd
// (github.com/klauspost/compress/zstd) and decides cheaply when a payload is
// not worth compressing.
//
// Compress first estimates compressibility from a 4 KiB sample spread over
// the input (byte-entropy test, then a trial compression of the sample when
// the bytes look random), so already-compressed or encrypted data costs a few
// microseconds instead of a full zstd pass; data that does get compressed is
// still stored raw when zstd saves less than 3%. Each output is one zstd frame
// that records its content size.
//
// Encoders and decoders are pooled (sync.Pool, one pool per level), each
// single-threaded and in low-memory mode with a 2 MiB match window; the pools
// let several goroutines compress at once and release idle state on GC.
// Decompress never allocates more than the caller's maxSize for the output.
package compress
