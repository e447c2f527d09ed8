using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.Hub.Tests.Support;

/// <summary>A temporary hub cache directory (a <see cref="TempDir"/>), deleted when disposed.</summary>
internal sealed class TempCache : IDisposable
{
    private readonly TempDir _dir = new();

    public string Path => _dir.Path;

    public string RepoDirectory(string repoId) => HuggingFaceCache.RepoDirectory(Path, repoId);

    public void Dispose() => _dir.Dispose();
}
