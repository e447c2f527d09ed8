namespace MlPipelines.Jobs.EmbedJobs.Shards;

/// <summary>
/// A contiguous range of an input's rows, embedded on its own and written as one part file, so that a job can be
/// spread over many workers and merged afterwards into the file one process would have written.
/// </summary>
/// <param name="Number">The shard's position in the plan (0-based); parts are merged in this order.</param>
/// <param name="FirstRow">The input row the shard starts at (0-based).</param>
/// <param name="Rows">How many rows it holds.</param>
public sealed record EmbedShard(int Number, long FirstRow, long Rows)
{
    /// <summary>More shards than this would make the job's state (and every status call) needlessly large.</summary>
    public const int MaxShards = 1_000_000;

    /// <summary>The number of full-size shards from which a plan ends in quarter-size ones (see <see cref="Plan"/>).</summary>
    public const int TaperFrom = 4;

    /// <summary>
    /// Splits <paramref name="totalRows"/> rows into shards of <paramref name="shardRows"/> rows, with
    /// <paramref name="shardRows"/> rounded up to a multiple of <paramref name="batchSize"/>: every shard then starts
    /// where a one-process run starts a batch, so an engine whose padded batches differ in the last bits gives the same
    /// bytes either way. In a plan of <see cref="TaperFrom"/> or more shards, the last two shards' worth of rows are cut
    /// into shards a quarter of that size (still whole batches): workers take one shard at a time, so a job ends when
    /// its last shard does, and while one worker embeds it the others have nothing left to take — with quarter-size
    /// shards at the end that idle tail is a quarter as long. Smaller plans keep the shards asked for.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is not positive, or the plan would exceed <see cref="MaxShards"/>.</exception>
    public static IReadOnlyList<EmbedShard> Plan(long totalRows, long shardRows, int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(totalRows);
        ArgumentOutOfRangeException.ThrowIfLessThan(shardRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        long size = checked((shardRows + batchSize - 1) / batchSize * batchSize);
        long quarter = size / 4;
        long tailSize = Math.Max(batchSize, quarter % batchSize == 0 ? quarter : quarter - quarter % batchSize + batchSize);
        long plain = (totalRows + size - 1) / size;
        bool taper = plain >= TaperFrom;
        long fullShards = taper ? plain - 2 : plain;
        long tailStart = fullShards * size;
        long count = taper ? fullShards + (totalRows - tailStart + tailSize - 1) / tailSize : plain;
        if (count > MaxShards)
            throw new ArgumentOutOfRangeException(nameof(shardRows), shardRows,
                $"{totalRows:N0} rows in shards of {size:N0} would make {count:N0} shards; at most {MaxShards:N0} are allowed: choose larger shards.");
        var shards = new EmbedShard[count];
        for (int i = 0; i < count; i++)
        {
            long first = i < fullShards ? i * size : tailStart + (i - fullShards) * tailSize;
            long rows = Math.Min(i < fullShards ? size : tailSize, totalRows - first);
            shards[i] = new EmbedShard(i, first, rows);
        }
        return shards;
    }
}

/// <summary>Where a shard's texts come from: the job's input file, its format and column.</summary>
public sealed record EmbedShardInput(string Path, EmbedInputFormat Format, string Column = EmbedInputs.DefaultColumn);

/// <summary>A finished shard's part file, as the manifest lists it: which rows it holds, and its size and SHA-256.</summary>
public sealed record EmbedShardPart(int Shard, string File, long FirstRow, long Rows, long Bytes, string Sha256);
