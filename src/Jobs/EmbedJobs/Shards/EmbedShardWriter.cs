using System.Security.Cryptography;
using MlPipelines.ManagedEngine.Embeddings;
using Parquet;

namespace MlPipelines.Jobs.EmbedJobs.Shards;

/// <summary>
/// Embeds one shard of a job into its part file, written through a temporary name and moved into place, so a part
/// exists whole or not at all. A part holds exactly the rows' share of what a one-process <see cref="EmbedJob"/>
/// writes (CSV without the header line, JSON Lines as they are, Parquet as a file of its own), so merging the parts
/// in order gives that file byte for byte (<see cref="EmbedShardMerger"/>). Writing a shard twice gives the same bytes:
/// a late duplicate simply replaces the part with itself.
/// </summary>
public static class EmbedShardWriter
{
    /// <summary>The part file's name for a shard: <c>shard-000042.csv</c> (or <c>.jsonl</c>, <c>.parquet</c>).</summary>
    public static string PartName(int shard, EmbedOutputFormat format) => $"shard-{shard:D6}{Extension(format)}";

    /// <summary>
    /// Embeds rows <see cref="EmbedShard.FirstRow"/>… of <paramref name="input"/> with <paramref name="embedder"/>, in
    /// batches of its batch size, and writes them to <see cref="PartName"/> in <paramref name="partsDirectory"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The shard does not start on a batch boundary (see <see cref="EmbedShard.Plan"/>).</exception>
    /// <exception cref="EmbedJobConflictException">The input has fewer rows than the shard needs: it changed since the job was planned.</exception>
    /// <exception cref="OperationCanceledException">Cancelled between batches; no part is left behind.</exception>
    public static async Task<EmbedShardPart> WriteAsync(Embedder embedder, EmbedShardInput input, EmbedShard shard, EmbedOutputFormat format,
        string partsDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(shard);
        int batchSize = embedder.Options.BatchSize;
        if (shard.FirstRow % batchSize != 0)
            throw new ArgumentException($"Shard {shard.Number} starts at row {shard.FirstRow}, not on a boundary of the batch size {batchSize}: plan shards with EmbedShard.Plan.", nameof(shard));

        Directory.CreateDirectory(partsDirectory);
        string name = PartName(shard.Number, format);
        string part = Path.Combine(partsDirectory, name);
        string temp = Path.Combine(partsDirectory, $".{name}.{Guid.NewGuid():N}.tmp");
        try
        {
            await WriteRowsAsync(embedder, input, shard, format, temp, cancellationToken);
            (long bytes, string sha256) = await HashAsync(temp, cancellationToken);
            File.Move(temp, part, overwrite: true);
            return new EmbedShardPart(shard.Number, name, shard.FirstRow, shard.Rows, bytes, sha256);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static async Task WriteRowsAsync(Embedder embedder, EmbedShardInput input, EmbedShard shard, EmbedOutputFormat format, string path, CancellationToken ct)
    {
        int dimension = embedder.Dimension;
        await using IShardOutput output = format switch
        {
            EmbedOutputFormat.Csv => new SinkOutput(new CsvEmbeddingSink(path, dimension, committedBytes: 0, writeHeader: false)),
            EmbedOutputFormat.JsonLines => new SinkOutput(new JsonLinesEmbeddingSink(path, committedBytes: 0)),
            EmbedOutputFormat.Parquet => await ParquetOutput.CreateAsync(path, dimension),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown output format."),
        };
        using IEnumerator<string> texts = EmbedInputs.Read(input.Path, input.Format, input.Column).GetEnumerator();
        for (long skipped = 0; skipped < shard.FirstRow; skipped++)
        {
            if ((skipped & 0xFFF) == 0) ct.ThrowIfCancellationRequested();
            if (!texts.MoveNext()) throw InputChanged(input, shard, skipped);
        }

        var batch = new List<string>(embedder.Options.BatchSize);
        for (long row = shard.FirstRow, end = shard.FirstRow + shard.Rows; row < end; row += batch.Count)
        {
            ct.ThrowIfCancellationRequested();
            batch.Clear();
            while (batch.Count < embedder.Options.BatchSize && row + batch.Count < end)
            {
                if (!texts.MoveNext()) throw InputChanged(input, shard, row + batch.Count);
                batch.Add(texts.Current);
            }
            float[][] vectors = embedder.Embed(batch);   // exactly one engine batch, as in a one-process run
            for (int i = 0; i < batch.Count; i++)
                await output.WriteAsync(row + i, batch[i], vectors[i]);
        }
        await output.CompleteAsync();
    }

    private static EmbedJobConflictException InputChanged(EmbedShardInput input, EmbedShard shard, long rows) =>
        new($"{input.Path} has only {rows:N0} rows but shard {shard.Number} needs rows {shard.FirstRow:N0}–{shard.FirstRow + shard.Rows - 1:N0}: the input changed since the job was planned.");

    private static async Task<(long Bytes, string Sha256)> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        byte[] hash = await SHA256.HashDataAsync(stream, ct);
        return (stream.Length, Convert.ToHexStringLower(hash));
    }

    internal static string Extension(EmbedOutputFormat format) => format switch
    {
        EmbedOutputFormat.Csv => ".csv",
        EmbedOutputFormat.JsonLines => ".jsonl",
        EmbedOutputFormat.Parquet => ".parquet",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown output format."),
    };

    private interface IShardOutput : IAsyncDisposable
    {
        ValueTask WriteAsync(long index, string text, float[] vector);
        ValueTask CompleteAsync();
    }

    /// <summary>CSV and JSON Lines: the one-process job's own line writers.</summary>
    private sealed class SinkOutput(IEmbeddingSink sink) : IShardOutput
    {
        public ValueTask WriteAsync(long index, string text, float[] vector)
        {
            sink.Write(index, text, vector);
            return ValueTask.CompletedTask;
        }

        public ValueTask CompleteAsync() => sink.CompleteAsync();
        public ValueTask DisposeAsync() => sink.DisposeAsync();
    }

    /// <summary>Parquet: the rows in row groups of the finished file's size, so a shard's memory stays bounded.</summary>
    private sealed class ParquetOutput : IShardOutput
    {
        private readonly FileStream _stream;
        private readonly ParquetWriter _writer;
        private readonly ParquetEmbeddingFile.Rows _rows;
        private readonly int _groupRows;
        private bool _completed;

        private ParquetOutput(FileStream stream, ParquetWriter writer, int dimension)
        {
            _stream = stream;
            _writer = writer;
            _rows = new ParquetEmbeddingFile.Rows(dimension);
            _groupRows = ParquetEmbeddingFile.RowGroupRows(dimension);
        }

        public static async Task<IShardOutput> CreateAsync(string path, int dimension)
        {
            var stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            try
            {
                return new ParquetOutput(stream, await ParquetWriter.CreateAsync(ParquetEmbeddingFile.Schema, stream), dimension);
            }
            catch
            {
                await stream.DisposeAsync();
                throw;
            }
        }

        public async ValueTask WriteAsync(long index, string text, float[] vector)
        {
            _rows.Indexes.Add(index);
            _rows.Texts.Add(text);
            _rows.Vectors.AddRange(vector);
            if (_rows.Count == _groupRows) await FlushAsync();
        }

        public async ValueTask CompleteAsync()
        {
            await FlushAsync();
            _completed = true;
            await _writer.DisposeAsync();   // writes the footer
            _stream.Flush(flushToDisk: true);
        }

        public async ValueTask DisposeAsync()
        {
            if (!_completed) await _writer.DisposeAsync();
            await _stream.DisposeAsync();
        }

        private async Task FlushAsync()
        {
            if (_rows.Count == 0) return;
            await ParquetEmbeddingFile.WriteRowGroupAsync(_writer, _rows, 0, _rows.Count);
            _rows.Clear();
        }
    }
}
