using System.Diagnostics;
using System.Globalization;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// Progress as plain lines (for logs and redirected streams, where a redrawn bar would be noise): one line
/// every <see cref="Interval"/> and at every tenth of the total, and a summary at the end.
/// </summary>
public sealed class EmbedProgressPrinter(TextWriter writer) : IProgress<EmbedProgress>
{
    private readonly Stopwatch _sinceLine = Stopwatch.StartNew();
    private long _nextTenth = -1;

    /// <summary>The longest time between two lines (default 5 s).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public void Report(EmbedProgress value)
    {
        bool tenth = false;
        if (value.TotalRows is > 0 and var total)
        {
            if (_nextTenth < 0)
                _nextTenth = NextTenth(value.ResumedRows, total);
            if (value.Rows >= _nextTenth)
            {
                tenth = true;
                _nextTenth = NextTenth(value.Rows, total);
            }
        }
        if (!tenth && _sinceLine.Elapsed < Interval)
            return;
        _sinceLine.Restart();
        writer.WriteLine(Format(value));
        writer.Flush();
    }

    /// <summary>One progress line: rows, percentage, rate and remaining time.</summary>
    public static string Format(EmbedProgress p)
    {
        var c = CultureInfo.InvariantCulture;
        string done = p.TotalRows is { } total
            ? string.Format(c, "{0:N0}/{1:N0} rows ({2:F0}%)", p.Rows, total, total == 0 ? 100 : 100.0 * p.Rows / total)
            : string.Format(c, "{0:N0} rows", p.Rows);
        string eta = p.Remaining is { } r ? ", ETA " + FormatDuration(r) : "";
        return string.Format(c, "embed: {0}, {1:N0} rows/s{2}", done, p.RowsPerSecond, eta);
    }

    /// <summary>The final line: rows, seconds and rows per second of this run.</summary>
    public static string Summary(EmbedJobResult result)
    {
        var c = CultureInfo.InvariantCulture;
        string resumed = result.ResumedRows > 0 ? string.Format(c, " ({0:N0} resumed)", result.ResumedRows) : "";
        return string.Format(c, "embed: {0:N0} rows{1} in {2:F2} s, {3:N0} rows/s -> {4}",
            result.Rows, resumed, result.Elapsed.TotalSeconds, result.RowsPerSecond, result.OutputPath);
    }

    /// <summary>h:mm:ss, or m:ss under an hour.</summary>
    public static string FormatDuration(TimeSpan t) =>
        t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    // The first row count at or past the next tenth of the total: ceil(k × total / 10).
    private static long NextTenth(long rows, long total)
    {
        long k = rows * 10 / total + 1;
        return (k * total + 9) / 10;
    }
}
