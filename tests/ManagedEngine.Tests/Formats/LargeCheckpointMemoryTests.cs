using System.Diagnostics;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Tests.Support;

namespace MlPipelines.ManagedEngine.Tests.Formats;

/// <summary>Resident memory is process-wide, so this runs alone, not beside other test classes.</summary>
[CollectionDefinition(nameof(LargeCheckpointMemoryTests), DisableParallelization = true)]
public sealed class LargeCheckpointMemoryCollection;

[Collection(nameof(LargeCheckpointMemoryTests))]
public class LargeCheckpointMemoryTests
{
    [Fact]
    public void Loading_the_110m_shape_maps_the_file_without_reading_it_into_memory()
    {
        using var dir = new TempDir();
        string path = dir.File("110m.bin");
        Llama2cCheckpointWriter.WriteRandom(path, ModelShapes.Get("110m"), seed: 3);
        long fileBytes = new FileInfo(path).Length;
        Assert.True(fileBytes > 400_000_000);

        // Drop the written pages from this process's view as far as we can, then measure the
        // resident set around the load: a mapping touches (almost) nothing until tokens run.
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        long before = process.WorkingSet64;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        using var model = new TransformerModel(Llama2cCheckpoint.Load(path));
        process.Refresh();
        long residentGrowth = process.WorkingSet64 - before;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;

        Assert.True(allocated < fileBytes / 100, $"load allocated {allocated:N0} managed bytes for a {fileBytes:N0}-byte file");
        Assert.True(residentGrowth < fileBytes / 10, $"resident memory grew by {residentGrowth:N0} bytes for a {fileBytes:N0}-byte file");
        Assert.Equal(768, model.Config.Dim);
    }
}
