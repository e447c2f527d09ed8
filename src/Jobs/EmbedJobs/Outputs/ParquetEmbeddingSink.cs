using System.Diagnostics;
using Parquet;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// Parquet output. A Parquet file is readable only once its footer is written, so it cannot grow in
/// place. Instead each commit writes the rows since the last one as a complete Parquet file
/// <c>OUTPUT.parts/part-NNNNNN.parquet</c> (through a temporary name, so a part either exists whole or not
/// at all): the rows finished so far are always a valid Parquet dataset. On completion the parts are
/// read back and rewritten into OUTPUT with row groups of a size fixed by the dimension alone, so the final
/// bytes do not depend on where the job was interrupted; OUTPUT appears by an atomic rename.
/// </summary>
internal sealed class ParquetEmbeddingSink : IEmbeddingSink
{
    private readonly string _path;
    private readonly string _partsDirectory;
    private readonly int _dimension;
    private readonly int _partRows;
    private readonly TimeSpan _partInterval;
    private readonly ParquetEmbeddingFile.Rows _pending;
    private readonly Stopwatch _sinceCommit = Stopwatch.StartNew();
    private int _parts;

    public ParquetEmbeddingSink(string path, int dimension, int committedParts, int partRows, TimeSpan partInterval)
    {
        _path = path;
        _partsDirectory = PartsDirectory(path);
        _dimension = dimension;
        _partRows = partRows;
        _partInterval = partInterval;
        _pending = new ParquetEmbeddingFile.Rows(dimension);
        _parts = committedParts;
        Directory.CreateDirectory(_partsDirectory);
        // Parts written after the last progress-file update, and temporary files of a torn write, are not
        // committed: their rows will be computed again.
        var committed = Enumerable.Range(0, committedParts).Select(PartName).ToHashSet(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(_partsDirectory))
            if (!committed.Contains(Path.GetFileName(file)))
                File.Delete(file);
        foreach (string name in committed)
            if (!File.Exists(Path.Combine(_partsDirectory, name)))
                throw new EmbedJobConflictException(
                    $"{_partsDirectory} lacks {name}, which the progress file records as committed. Start over to replace it (EmbedJobOptions.Restart).");
    }

    /// <summary>The directory holding the committed parts of <paramref name="output"/>.</summary>
    public static string PartsDirectory(string output) => output + ".parts";

    // A part costs a file and a footer, so parts are committed every so many rows or seconds rather than
    // every batch; an interruption by Ctrl+C still commits the rows pending, only a kill loses them.
    public bool CommitDue => _pending.Count >= _partRows || (_pending.Count > 0 && _sinceCommit.Elapsed >= _partInterval);

    public void Write(long index, string text, ReadOnlySpan<float> vector)
    {
        _pending.Indexes.Add(index);
        _pending.Texts.Add(text);
        _pending.Vectors.AddRange(vector);
    }

    public async ValueTask<SinkCheckpoint> CommitAsync()
    {
        if (_pending.Count > 0)
        {
            string part = Path.Combine(_partsDirectory, PartName(_parts));
            await WriteAtomicallyAsync(part, async stream =>
            {
                await using ParquetWriter writer = await ParquetWriter.CreateAsync(ParquetEmbeddingFile.Schema, stream);
                await ParquetEmbeddingFile.WriteRowGroupAsync(writer, _pending, 0, _pending.Count);
            });
            _parts++;
            _pending.Clear();
        }
        _sinceCommit.Restart();
        return new SinkCheckpoint(0, _parts);
    }

    public async ValueTask CompleteAsync()
    {
        await CommitAsync();
        string[] parts = Enumerable.Range(0, _parts).Select(p => Path.Combine(_partsDirectory, PartName(p))).ToArray();
        await WriteAtomicallyAsync(_path, stream => ParquetEmbeddingFile.MergeAsync(parts, stream, _dimension));
    }

    public void DeleteWorkingFiles()
    {
        if (Directory.Exists(_partsDirectory))
            Directory.Delete(_partsDirectory, recursive: true);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static string PartName(int part) => $"part-{part:D6}.parquet";

    internal static async Task WriteAtomicallyAsync(string path, Func<Stream, Task> write)
    {
        string temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16))
            {
                await write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
