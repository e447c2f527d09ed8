using MlPipelines.Hub.Tests.Support;

namespace MlPipelines.Hub.Tests;

/// <summary>Offline mode answers from the cache and never touches the network.</summary>
public sealed class OfflineTests : HubTestBase
{
    [Fact]
    public async Task Offline_with_a_cached_snapshot_returns_it_without_any_request()
    {
        PullResult online = await PullAsync();
        int requests = Hub.Requests.Count;

        PullResult offline = await PullAsync(options: Options() with { Offline = true });

        Assert.True(offline.FromCache);
        Assert.Equal(online.SnapshotDirectory, offline.SnapshotDirectory);
        Assert.Equal(Repo.Commit, offline.Commit);
        Assert.Equal(online.Files.Select(f => f.Name).Order(), offline.Files.Select(f => f.Name));
        Assert.Equal(Weights.Content.Length, offline.Files.Single(f => f.Name == "model.safetensors").Size);
        Assert.Equal(requests, Hub.Requests.Count);
    }

    [Fact]
    public async Task Offline_without_a_cached_snapshot_fails_saying_so()
    {
        var e = await Assert.ThrowsAsync<HubException>(() => PullAsync(options: Options() with { Offline = true }));
        Assert.Equal(HubErrorKind.NotCached, e.Kind);
        Assert.Contains("offline mode is on", e.Message);
        Assert.Contains("org/tiny@main is not in the cache", e.Message);
        Assert.Empty(Hub.Requests);
    }

    [Fact]
    public async Task Offline_never_touches_the_network_even_with_an_unreachable_endpoint()
    {
        var options = Options() with { Offline = true, Endpoint = "http://127.0.0.1:9" };
        await Assert.ThrowsAsync<HubException>(() => PullAsync(options: options));
    }
}
