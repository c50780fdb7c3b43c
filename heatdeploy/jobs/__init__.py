"""Jobs on launched clusters: job specs, binaries in Swift, and the job manager."""
