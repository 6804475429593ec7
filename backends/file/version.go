package file

// Format versions, as the package doc describes them: FormatVersion is
// the version of the log's segments that this package writes (it reads
// every earlier one too), and CheckpointFormatVersion that of its
// checkpoint and snapshot files.
const (
	FormatVersion           = segVersion
	CheckpointFormatVersion = formatVersion
)
