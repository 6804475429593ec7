package file

// FormatVersion is the version of the on-disk format this package writes
// and reads: the one in every segment header and checkpoint (see the
// package doc).
const FormatVersion = formatVersion
