namespace MlPipelines.Hub.Tests.Support;

/// <summary>A temporary hub cache directory, deleted when disposed.</summary>
internal sealed class TempCache : IDisposable
{
    public TempCache()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlpipe-hub-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string RepoDirectory(string repoId) => System.IO.Path.Combine(Path, "models--" + repoId.Replace("/", "--"));

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
