using Microsoft.Extensions.DependencyInjection;
using MlPipelines.Cluster.Silo;
using MlPipelines.Tests.Support;
using Orleans.Serialization;
using Orleans.Storage;

namespace MlPipelines.Cluster.Tests;

/// <summary>Job state in files: read back as written, by another instance (another silo); a stale writer is refused.</summary>
public class FolderGrainStorageTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    [Fact]
    public async Task State_written_by_one_silo_is_read_by_another_and_a_stale_write_is_refused()
    {
        using var dir = new TempDir();
        GrainId id = GrainId.Create("job", "embed-0123/with:odd chars");
        var first = new FolderGrainStorage(dir.Path, Serializer);
        var second = new FolderGrainStorage(dir.Path, Serializer);

        var empty = new GrainState<List<string>>(new List<string>());
        await second.ReadStateAsync("registry", id, empty);
        Assert.False(empty.RecordExists);

        var written = new GrainState<List<string>>(["a", "b"]);
        await first.WriteStateAsync("registry", id, written);
        var read = new GrainState<List<string>>(new List<string>());
        await second.ReadStateAsync("registry", id, read);
        Assert.True(read.RecordExists);
        Assert.Equal(["a", "b"], read.State);
        Assert.Equal(written.ETag, read.ETag);

        read.State!.Add("c");
        await second.WriteStateAsync("registry", id, read);
        written.State!.Add("stale");
        await Assert.ThrowsAsync<InconsistentStateException>(() => first.WriteStateAsync("registry", id, written));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));

        await second.ClearStateAsync("registry", id, read);
        var cleared = new GrainState<List<string>>(new List<string>());
        await first.ReadStateAsync("registry", id, cleared);
        Assert.False(cleared.RecordExists);
    }
}
