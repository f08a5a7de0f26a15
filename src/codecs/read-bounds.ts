/**
 * Bounds on what a batch job reads whole from a columnar input, shared by the Arrow IPC reader
 * (arrow-batch-reader.ts) and the Parquet reader (columnar-files.ts, parquet-footer-bounds.ts): a
 * module of its own so that neither format's reader imports the other for it.
 */

/**
 * Bytes one block of a columnar input, read whole, may take by default (`vireo batch
 * --max-message-bytes`): 2 GiB, for one Arrow record batch (arrow-batch-reader.ts) or one Parquet row
 * group (parquet-footer-bounds.ts). A block is read whole, and holds many rows, often the whole table:
 * pyarrow's `write_table` of a table built in one piece and Polars' `write_ipc` of a rechunked frame
 * write one record batch, and pyarrow's default Parquet row group is 2^20 rows. So a bound of one row's
 * read (`--max-file-bytes`, 64 MiB) would refuse ordinary files (100,000 rows of 256 float32 features
 * are 100 MB). 2 GiB takes pyarrow's default row group of up to ≈ 500 float32 columns (2^20 rows of 256
 * are just over 1 GiB), keeps a job's memory at a few gigabytes (the block being run and, at a
 * boundary, the next one read), and stays below the largest buffer node can allocate (4 GiB in node 20);
 * a declared size beyond it, corrupt or hostile, is refused before anything is allocated.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 2 * 1024 ** 3;
