using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace MlPipelines.Hub.Tests.Support;

/// <summary>A file of a fake repository. Large ("LFS") files are named by SHA-256 and served from the CDN.</summary>
internal sealed class FakeFile(string name, byte[] content, bool lfs)
{
    public string Name { get; } = name;
    public byte[] Content { get; } = content;
    public bool Lfs { get; } = lfs;
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Content));
    public string GitSha1 => Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {Content.Length}\0"), .. Content]));
    /// <summary>The blob name the Hub gives the file: SHA-256 for LFS files, the git blob id otherwise.</summary>
    public string Etag => Lfs ? Sha256 : GitSha1;

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}

/// <summary>A fake repository: files at one commit, reachable by that commit and by its branches.</summary>
internal sealed class FakeRepo(string id, params FakeFile[] files)
{
    public string Id { get; } = id;
    public string Commit { get; } = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id)));
    public List<FakeFile> Files { get; } = [.. files];
    public HashSet<string> Branches { get; } = ["main"];
    /// <summary>Gated: only requests with <see cref="FakeHub.Token"/> get in.</summary>
    public bool Gated { get; init; }
    /// <summary>Files the listing names but the resolve address answers 404 EntryNotFound for.</summary>
    public HashSet<string> Unresolvable { get; } = [];
}

/// <summary>One request the fake Hub or CDN received.</summary>
internal sealed record RecordedRequest(string Server, string Method, string Path, string? Range, string? Authorization);

/// <summary>
/// The parts of the Hugging Face Hub a pull uses, served by Kestrel on 127.0.0.1 (port 0): the model API, the
/// <c>resolve</c> addresses (HEAD metadata headers, 302 of LFS files to a second "CDN" listener, Range), and
/// switchable failures.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication _hub;
    private readonly WebApplication _cdn;
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new();
    private readonly ConcurrentDictionary<string, FakeFile> _blobs = new();
    private int _rateLimitLeft;

    private FakeHub(WebApplication hub, WebApplication cdn)
    {
        _hub = hub;
        _cdn = cdn;
    }

    public string Endpoint { get; private set; } = "";
    public string CdnEndpoint { get; private set; } = "";
    public string Token { get; } = "hf_test_token";
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Old repository id → new one: answered with a relative 307, as the Hub does for renamed repositories.</summary>
    public ConcurrentDictionary<string, string> Renamed { get; } = new();
    /// <summary>Files served with different bytes than their ETag names (a corrupted transfer).</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();
    /// <summary>File name → bytes after which the next body of that file is cut off (the connection aborted), once.</summary>
    public ConcurrentDictionary<string, int> DropAfter { get; } = new();
    /// <summary>The next this many Hub requests get 429 with Retry-After: 0.</summary>
    public int RateLimitTimes { set => Volatile.Write(ref _rateLimitLeft, value); }
    /// <summary>Every Hub request gets 500.</summary>
    public bool AlwaysFail { get; set; }
    /// <summary>Bodies ignore Range and always send the whole file (200).</summary>
    public bool IgnoreRange { get; set; }
    /// <summary>Bodies go out in 16 KB pieces this far apart (a slow connection), so that a download takes a while.</summary>
    public TimeSpan ChunkDelay { get; set; }

    public IEnumerable<RecordedRequest> Gets(string fileName) =>
        Requests.Where(r => r.Method == "GET" && (r.Path.EndsWith("/" + fileName, StringComparison.Ordinal) || r.Path.Contains("file=" + Uri.EscapeDataString(fileName), StringComparison.Ordinal)));

    public static async Task<FakeHub> StartAsync()
    {
        WebApplication hub = Build(), cdn = Build();
        var fake = new FakeHub(hub, cdn);
        hub.Run(fake.ServeHubAsync);
        cdn.Run(fake.ServeCdnAsync);
        await hub.StartAsync();
        await cdn.StartAsync();
        fake.Endpoint = hub.Urls.Single();
        fake.CdnEndpoint = cdn.Urls.Single();
        return fake;
    }

    public FakeRepo Add(FakeRepo repo)
    {
        _repos[repo.Id] = repo;
        foreach (FakeFile file in repo.Files.Where(f => f.Lfs))
            _blobs[file.Sha256] = file;
        return repo;
    }

    private static WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        return builder.Build();
    }

    private void Record(string server, HttpContext ctx) =>
        Requests.Enqueue(new RecordedRequest(server, ctx.Request.Method, ctx.Request.Path + ctx.Request.QueryString,
            ctx.Request.Headers.Range.FirstOrDefault(), ctx.Request.Headers.Authorization.FirstOrDefault()));

    private async Task ServeHubAsync(HttpContext ctx)
    {
        Record("hub", ctx);
        if (AlwaysFail)
        {
            ctx.Response.StatusCode = 500;
            return;
        }
        if (Interlocked.Decrement(ref _rateLimitLeft) >= 0)
        {
            ctx.Response.StatusCode = 429;
            ctx.Response.Headers.RetryAfter = "0";
            return;
        }
        string[] parts = ctx.Request.Path.Value!.TrimStart('/').Split('/');
        if (parts is ["api", "models", var org, var name, "revision", var revision])
            await ServeApiAsync(ctx, $"{org}/{name}", Uri.UnescapeDataString(revision));
        else if (parts.Length >= 5 && parts[2] == "resolve")
            await ServeResolveAsync(ctx, $"{parts[0]}/{parts[1]}", Uri.UnescapeDataString(parts[3]), string.Join('/', parts[4..]));
        else
            ctx.Response.StatusCode = 404;
    }

    /// <summary>The repository and commit for a request, or null after writing the error the Hub would send.</summary>
    private (FakeRepo Repo, string Commit)? Find(HttpContext ctx, string repoId, string revision)
    {
        if (Renamed.TryGetValue(repoId, out string? newId))
        {
            ctx.Response.StatusCode = 307;
            ctx.Response.Headers.Location = ctx.Request.Path.Value!.Replace("/" + repoId + "/", "/" + newId + "/") + ctx.Request.QueryString;
            return null;
        }
        if (!_repos.TryGetValue(repoId, out FakeRepo? repo))
            return Error(ctx, 404, "RepoNotFound");
        if (repo.Gated)
        {
            string? auth = ctx.Request.Headers.Authorization.FirstOrDefault();
            if (auth is null) return Error(ctx, 401, null);
            if (auth != "Bearer " + Token) return Error(ctx, 403, "GatedRepo");
        }
        if (revision != repo.Commit && !repo.Branches.Contains(revision))
            return Error(ctx, 404, "RevisionNotFound");
        return (repo, repo.Commit);
    }

    private static (FakeRepo, string)? Error(HttpContext ctx, int status, string? code)
    {
        ctx.Response.StatusCode = status;
        if (code is not null) ctx.Response.Headers["X-Error-Code"] = code;
        return null;
    }

    private async Task ServeApiAsync(HttpContext ctx, string repoId, string revision)
    {
        if (Find(ctx, repoId, revision) is not var (repo, commit)) return;
        var json = new
        {
            id = repo.Id,
            sha = commit,
            siblings = repo.Files.Select(f => f.Lfs
                ? (object)new { rfilename = f.Name, size = f.Content.Length, lfs = new { sha256 = f.Sha256, size = f.Content.Length, pointerSize = 134 } }
                : new { rfilename = f.Name, size = f.Content.Length }),
        };
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(json));
    }

    private async Task ServeResolveAsync(HttpContext ctx, string repoId, string revision, string fileName)
    {
        if (Find(ctx, repoId, revision) is not var (repo, commit)) return;
        FakeFile? file = repo.Files.FirstOrDefault(f => f.Name == Uri.UnescapeDataString(fileName));
        if (file is null || repo.Unresolvable.Contains(file.Name))
        {
            Error(ctx, 404, "EntryNotFound");
            return;
        }
        ctx.Response.Headers["X-Repo-Commit"] = commit;
        if (file.Lfs)
        {
            ctx.Response.StatusCode = 302;
            ctx.Response.Headers["X-Linked-Etag"] = $"\"{file.Sha256}\"";
            ctx.Response.Headers["X-Linked-Size"] = file.Content.Length.ToString();
            ctx.Response.Headers.ETag = $"\"{file.GitSha1}\"";   // the pointer file's id: not the blob's name
            ctx.Response.Headers.Location = $"{CdnEndpoint}/blobs/{file.Sha256}?file={Uri.EscapeDataString(file.Name)}";
            return;
        }
        ctx.Response.Headers.ETag = $"W/\"{file.GitSha1}\"";
        await ServeBodyAsync(ctx, file);
    }

    private async Task ServeCdnAsync(HttpContext ctx)
    {
        Record("cdn", ctx);
        string sha = ctx.Request.Path.Value!.Split('/').Last();
        if (!_blobs.TryGetValue(sha, out FakeFile? file))
        {
            ctx.Response.StatusCode = 404;
            return;
        }
        await ServeBodyAsync(ctx, file);
    }

    /// <summary>The file's bytes, honouring <c>Range: bytes=N-</c> (206) unless <see cref="IgnoreRange"/>.</summary>
    private async Task ServeBodyAsync(HttpContext ctx, FakeFile file)
    {
        byte[] content = file.Content;
        if (Corrupt.ContainsKey(file.Name))
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0xFF;
        }
        int start = 0;
        string? range = ctx.Request.Headers.Range.FirstOrDefault();
        if (range is not null && !IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = int.Parse(range["bytes=".Length..^1]);
            if (start >= content.Length)
            {
                ctx.Response.StatusCode = 416;
                ctx.Response.Headers.ContentRange = $"bytes */{content.Length}";
                return;
            }
            ctx.Response.StatusCode = 206;
            ctx.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
        }
        ctx.Response.ContentLength = content.Length - start;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        if (DropAfter.TryRemove(file.Name, out int drop) && drop < content.Length - start)
        {
            await ctx.Response.Body.WriteAsync(content.AsMemory(start, drop));
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(50);
            ctx.Abort();
            return;
        }
        if (ChunkDelay > TimeSpan.Zero)
        {
            const int Chunk = 16 * 1024;
            for (int at = start; at < content.Length; at += Chunk)
            {
                await ctx.Response.Body.WriteAsync(content.AsMemory(at, Math.Min(Chunk, content.Length - at)), ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                await Task.Delay(ChunkDelay, ctx.RequestAborted);
            }
            return;
        }
        await ctx.Response.Body.WriteAsync(content.AsMemory(start));
    }

    public async ValueTask DisposeAsync()
    {
        await _hub.StopAsync();
        await _cdn.StopAsync();
        await _hub.DisposeAsync();
        await _cdn.DisposeAsync();
    }
}
