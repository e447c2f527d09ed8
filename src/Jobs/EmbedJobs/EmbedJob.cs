using System.Diagnostics;
using MlPipelines.ManagedEngine.Embeddings;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// Embeds every text of an input file into an output file, streaming and in batches, resumable: rows are
/// committed as they are written (see <see cref="EmbedJobOptions.OutputPath"/> for the files kept beside the
/// output), so an interrupted job — cancelled, or killed outright — continues where it stopped when run
/// again with the same arguments, and finishes with the same output bytes as an uninterrupted run.
/// </summary>
public static class EmbedJob
{
    /// <summary>
    /// Runs the job. Cancelling <paramref name="cancellationToken"/> stops after the batch in flight, commits
    /// and returns a result with <see cref="EmbedJobResult.Cancelled"/> set (not an exception: the partial
    /// output is a normal outcome). <paramref name="progress"/> is called on the job's thread after each batch.
    /// </summary>
    /// <exception cref="EmbedJobConflictException">The output exists, belongs to a different job, or was changed.</exception>
    /// <exception cref="InvalidDataException">The input is malformed (the message names the file and line).</exception>
    public static async Task<EmbedJobResult> RunAsync(
        Embedder embedder, EmbedJobOptions options, IProgress<EmbedProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        EmbedInputFormat inputFormat = options.EffectiveInputFormat;
        EmbedOutputFormat outputFormat = options.EffectiveOutputFormat;

        // Validating the whole input first means a bad row 9,000 is reported before minutes of embedding.
        long? total = options.CountRowsFirst ? EmbedInputs.Count(options.InputPath, inputFormat, options.Column, cancellationToken) : null;
        SortedDictionary<string, string> job = JobFingerprint.Create(options, embedder);
        string progressPath = ProgressFile.PathFor(options.OutputPath);
        ProgressFile.Content state = Prepare(options, outputFormat, progressPath, job);

        var clock = Stopwatch.StartNew();
        long rows = state.Rows;
        await using IEmbeddingSink sink = EmbeddingSinks.Open(outputFormat, options.OutputPath, embedder.Dimension, new SinkCheckpoint(state.Bytes, state.Parts), options);
        using IEnumerator<string> texts = EmbedInputs.Read(options.InputPath, inputFormat, options.Column).GetEnumerator();
        for (long skipped = 0; skipped < state.Rows; skipped++)
        {
            if (!texts.MoveNext())
                throw new EmbedJobConflictException(
                    $"{options.InputPath} has {skipped} rows but {progressPath} records {state.Rows} done: the input changed. Start over to replace it (EmbedJobOptions.Restart).");
        }

        int batchSize = embedder.Options.BatchSize;
        var batch = new List<string>(batchSize);
        bool cancelled = false;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                cancelled = true;
                break;
            }
            batch.Clear();
            while (batch.Count < batchSize && texts.MoveNext())
                batch.Add(texts.Current);
            if (batch.Count == 0)
                break;

            float[][] vectors = embedder.Embed(batch);   // exactly one engine batch
            for (int i = 0; i < batch.Count; i++)
                sink.Write(rows + i, batch[i], vectors[i]);
            rows += batch.Count;
            if (sink.CommitDue)
                await CommitAsync(sink, progressPath, state, rows);
            progress?.Report(new EmbedProgress(rows, state.Rows, total, clock.Elapsed));
        }

        if (cancelled)
        {
            await CommitAsync(sink, progressPath, state, rows);
            return new EmbedJobResult(options.OutputPath, rows, state.Rows, clock.Elapsed, Cancelled: true);
        }
        await sink.CompleteAsync();
        // The progress file goes first: once it is gone the output counts as complete, and leftover working
        // files can only be cleaned up, never mistaken for progress.
        File.Delete(progressPath);
        sink.DeleteWorkingFiles();
        return new EmbedJobResult(options.OutputPath, rows, state.Rows, clock.Elapsed, Cancelled: false);
    }

    private static async Task CommitAsync(IEmbeddingSink sink, string progressPath, ProgressFile.Content state, long rows)
    {
        SinkCheckpoint checkpoint = await sink.CommitAsync();
        // The output is committed before the progress file says so: a crash in between leaves rows past the
        // recorded point, which a resume discards and recomputes.
        ProgressFile.Save(progressPath, state with { Rows = rows, Bytes = checkpoint.Bytes, Parts = checkpoint.Parts });
    }

    /// <summary>Decides between a fresh start and a resume, and makes the files agree with that decision.</summary>
    private static ProgressFile.Content Prepare(EmbedJobOptions options, EmbedOutputFormat format, string progressPath, SortedDictionary<string, string> job)
    {
        string output = options.OutputPath;
        string parts = ParquetEmbeddingSink.PartsDirectory(output);
        if (!options.Restart && File.Exists(progressPath))
        {
            ProgressFile.Content previous = ProgressFile.Load(progressPath);
            IReadOnlyList<string> differences = JobFingerprint.Differences(previous.Job, job);
            if (differences.Count > 0)
                throw new EmbedJobConflictException(
                    $"{output} is an unfinished job with different settings ({string.Join("; ", differences)}). " +
                    "Run it again with the same arguments and unchanged files to resume it, or start over (EmbedJobOptions.Restart).");
            return previous;
        }
        if (!options.Restart && File.Exists(output))
            throw new EmbedJobConflictException(
                $"{output} already exists and is not an unfinished embed job (there is no {Path.GetFileName(progressPath)} beside it). Start over to replace it (EmbedJobOptions.Restart).");

        File.Delete(output);
        if (Directory.Exists(parts))
            Directory.Delete(parts, recursive: true);
        // Recorded before the output is created, so even a job killed at once is recognised as unfinished.
        var fresh = new ProgressFile.Content(ProgressFile.CurrentVersion, Rows: 0, Bytes: 0, Parts: 0, job);
        ProgressFile.Save(progressPath, fresh);
        return fresh;
    }
}
