using System.Diagnostics;
using System.Net;

namespace MlPipelines.Hub;

/// <summary>
/// Downloads one blob into <c>blobs/{etag}.incomplete</c>, resuming what an earlier attempt (or run) left there,
/// verifies it and only then moves it to <c>blobs/{etag}</c>, so a blob under its final name is always complete.
/// </summary>
internal sealed class BlobDownloader(HubHttp http, HubOptions options)
{
    private static readonly TimeSpan ReportInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Fetches <paramref name="uri"/> into <paramref name="blobPath"/>. <paramref name="report"/> receives the bytes
    /// on disk so far (first call: what a previous partial download left). Returns the bytes fetched by this call
    /// (the whole file when a server ignored a resume and sent it again).
    /// </summary>
    public async Task<long> DownloadAsync(
        Uri uri, string blobPath, string etag, long? size, RequestSubject subject,
        Action<long> report, Action<string> onRetry, CancellationToken ct)
    {
        string partial = CacheLayout.IncompletePath(blobPath);
        string directory = Path.GetDirectoryName(blobPath)!;
        long fetched = 0;
        bool reportedStart = false;
        for (int attempt = 1; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (size is long known && have > known)
            {
                File.Delete(partial);   // longer than the file can be: not a prefix of it
                have = 0;
            }
            if (!reportedStart)
            {
                report(have);
                reportedStart = true;
            }
            if (size is long complete && have == complete)
            {
                if (have == 0) await File.WriteAllBytesAsync(partial, [], ct).ConfigureAwait(false);
                break;   // everything is there (a run stopped before verifying); nothing to ask for
            }

            HttpResponseMessage response = await http.SendAsync(
                HttpMethod.Get, uri, RedirectPolicy.All, have, subject, onRetry, ct).ConfigureAwait(false);
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    // The partial file does not fit the file on the server (it changed, or its size was unknown).
                    File.Delete(partial);
                    if (attempt >= options.MaxAttempts)
                        throw HubErrors.Status(response, subject, attempt);
                    continue;
                }
                // 206 from where we stopped appends; a 200 (server ignoring Range) or any other range starts over.
                bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent
                              && response.Content.Headers.ContentRange?.From == have;
                if (!append) have = 0;
                try
                {
                    await CopyBodyAsync(response, partial, append, have, directory, report, ct).ConfigureAwait(false);
                    long now = new FileInfo(partial).Length;
                    if (size is not long expected || now >= expected)
                        break;
                    // The body ended cleanly but short (no Content-Length to catch it): resume like a dropped connection.
                    throw new IOException($"the body ended after {now:N0} of {expected:N0} bytes");
                }
                catch (Exception e) when (HubRetry.IsTransient(e) && !ct.IsCancellationRequested)
                {
                    if (attempt >= options.MaxAttempts)
                        throw new HubException(HubErrorKind.Network,
                            $"the download of {subject.Describe()} kept failing: {e.Message} (after {attempt} attempts); " +
                            "pull again to resume it", e);
                    onRetry($"{e.Message}; resuming, attempt {attempt + 1} of {options.MaxAttempts}");
                }
                finally
                {
                    // Counted from the file, so an attempt cut off midway still counts what it wrote.
                    fetched += LengthOrZero(partial) - have;
                }
            }
            await Task.Delay(HubRetry.Delay(attempt + 1, null, options), ct).ConfigureAwait(false);
        }

        BlobVerifier.Verify(partial, etag, size, subject.FileName!);
        // Atomic on one file system: the blob appears complete and verified or not at all.
        File.Move(partial, blobPath, overwrite: true);
        return fetched;
    }

    private static long LengthOrZero(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : 0;
    }

    /// <summary>
    /// Streams the body to the partial file, flushed to the disk at the end. Each read may stay silent for at most
    /// <see cref="HubOptions.ReadTimeout"/>; read failures surface as transient exceptions (resumed by the caller),
    /// a full disk as <see cref="HubException"/>.
    /// </summary>
    private async Task CopyBodyAsync(
        HttpResponseMessage response, string partial, bool append, long have, string directory, Action<long> report, CancellationToken ct)
    {
        await using Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        // FileShare.None: a second process pulling the same blob fails here instead of interleaving writes.
        await using var file = new FileStream(partial, append ? FileMode.Append : FileMode.Create, FileAccess.Write,
            FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        byte[] buffer = new byte[1 << 20];
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sinceReport = Stopwatch.StartNew();
        while (true)
        {
            silence.CancelAfter(options.ReadTimeout);
            int n;
            try
            {
                n = await body.ReadAsync(buffer, silence.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no data for {options.ReadTimeout.TotalSeconds:0.#} s", e);
            }
            if (n == 0) break;
            try
            {
                await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
            catch (IOException e) when (DiskSpace.IsDiskFull(e))
            {
                throw DiskSpace.Full(directory, e);
            }
            catch (IOException e)
            {
                throw new HubException(HubErrorKind.CacheWrite, $"could not write {partial}: {e.Message}", e);
            }
            have += n;
            if (sinceReport.Elapsed >= ReportInterval)
            {
                report(have);
                sinceReport.Restart();
            }
        }
        try
        {
            file.Flush(flushToDisk: true);
        }
        catch (IOException e) when (DiskSpace.IsDiskFull(e))
        {
            throw DiskSpace.Full(directory, e);
        }
        report(have);
    }
}
