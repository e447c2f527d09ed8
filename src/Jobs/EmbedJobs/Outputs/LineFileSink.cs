using System.Globalization;
using System.Text;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// A text output (CSV, JSON Lines) written in place, one line per row, appended as the job goes. A commit
/// flushes it and reports its length; a resume cuts the file back to the committed length, which drops a
/// line torn by a crash, and appends from there. Since each line depends only on its row, the finished
/// file is the same bytes however often the job was interrupted.
/// </summary>
internal abstract class LineFileSink : IEmbeddingSink
{
    private readonly FileStream _file;
    private readonly char[] _number = new char[32];

    protected LineFileSink(string path, long committedBytes)
    {
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            if (_file.Length < committedBytes)
                throw new EmbedJobConflictException(
                    $"{path} holds {_file.Length} bytes but its progress file records {committedBytes} committed bytes: the output was changed since. Start over to replace it (EmbedJobOptions.Restart).");
            _file.SetLength(committedBytes);
            _file.Position = committedBytes;
        }
        catch
        {
            _file.Dispose();
            throw;
        }
        Writer = new StreamWriter(_file, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 1 << 16, leaveOpen: true);
        IsNew = committedBytes == 0;
    }

    /// <summary>The output as text (UTF-8, no BOM, \n line ends).</summary>
    protected StreamWriter Writer { get; }

    /// <summary>Nothing was committed yet: a header (if any) is still to be written.</summary>
    protected bool IsNew { get; }

    public abstract void Write(long index, string text, ReadOnlySpan<float> vector);

    // Committing after every batch costs one flush and one small file rename, which is noise next to a
    // forward pass, and means an interruption loses at most the batch in flight.
    public bool CommitDue => true;

    public ValueTask<SinkCheckpoint> CommitAsync()
    {
        Writer.Flush();
        _file.Flush(flushToDisk: false);
        return ValueTask.FromResult(new SinkCheckpoint(_file.Position, 0));
    }

    public ValueTask CompleteAsync()
    {
        Writer.Flush();
        _file.Flush(flushToDisk: true);
        return ValueTask.CompletedTask;
    }

    public void DeleteWorkingFiles() { }

    public ValueTask DisposeAsync()
    {
        Writer.Dispose();
        _file.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Writes a float in its shortest round-trip form (invariant culture), without allocating.</summary>
    protected void WriteFloat(float value)
    {
        value.TryFormat(_number, out int written, "R", CultureInfo.InvariantCulture);
        Writer.Write(_number, 0, written);
    }

    /// <summary>Writes an integer (invariant culture), without allocating.</summary>
    protected void WriteInteger(long value)
    {
        value.TryFormat(_number, out int written, default, CultureInfo.InvariantCulture);
        Writer.Write(_number, 0, written);
    }
}
