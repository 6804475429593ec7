package file

// Format versions, as the package doc describes them: FormatVersion is
// the version of the log's segments that this package writes (it reads
// every earlier one too), CheckpointFormatVersion that of its store
// checkpoints (it reads versions 1 and 2 too), and SnapshotFormatVersion
// that of its snapshot files (it reads version 1 too).
const (
	FormatVersion           = segVersion
	CheckpointFormatVersion = ckptVersion
	SnapshotFormatVersion   = snapFormat
)
