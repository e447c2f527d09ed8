using MlPipelines.Jobs.Benchmarks;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.Benchmarks;

/// <summary>Resident memory is process-wide, so these run alone, not beside other test classes.</summary>
[CollectionDefinition(nameof(BenchmarkMemoryTests), DisableParallelization = true)]
public sealed class BenchmarkMemoryCollection;

/// <summary>The memory a benchmark records: plausible readings, and the 110m shape's weights where they should show.</summary>
[Collection(nameof(BenchmarkMemoryTests))]
public sealed class BenchmarkMemoryTests : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly TempDir _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public void The_peak_rises_with_touched_memory_and_can_be_reset_on_linux()
    {
        long resident = ProcessMemory.ResidentBytes();
        Assert.True(resident > 0);
        Assert.True(ProcessMemory.PeakResidentBytes() >= resident);
        bool reset = ProcessMemory.TryResetPeak();
        if (!reset)
            return;   // elsewhere (or where /proc/self/clear_refs is refused) the peak is the process's since it started

        long before = ProcessMemory.PeakResidentBytes();
        var block = GC.AllocateUninitializedArray<byte>((int)(64 * MiB), pinned: true);
        for (int i = 0; i < block.Length; i += 4096)
            block[i] = 1;   // touch every page
        long peak = ProcessMemory.PeakResidentBytes();
        GC.KeepAlive(block);
        Assert.True(peak - before >= 60 * MiB, $"peak {peak:N0}, before {before:N0}");
    }

    [Fact]
    public void The_110m_shape_maps_at_load_and_its_weights_are_resident_once_the_runs_touch_them()
    {
        var subject = BenchmarkModel.FromShape("110m", _cache.Path, out _);
        long fileBytes = subject.FileBytes();
        long weightBytes = subject.WeightFormat.Types.Sum(t => t.Bytes);
        Assert.Equal("F32", subject.WeightFormat.Name);
        Assert.InRange(weightBytes, fileBytes - 4096, fileBytes);
        GC.Collect();
        GC.WaitForPendingFinalizers();

        var target = subject.OpenTarget(EngineKind.Managed, threads: 1);
        using var model = target.Model;
        ModelLoad load = target.Load!;
        long kvCache = 12L * 2 * 1024 * 768 * 4;
        Assert.Equal(("F32", false, kvCache), (load.Weights, load.Requantized, load.KvCacheBytes));
        Assert.True(load.ResidentAfterBytes > 0);
        // Mapping reads nothing: loading adds a small fraction of the file.
        Assert.InRange(load.ModelBytes, -fileBytes / 10, fileBytes / 10);

        // One decode step and one prefill token read every weight (the classifier is the embedding).
        var row = Assert.Single(EngineBenchmark.Run([target],
            new BenchmarkOptions { Runs = 1, PromptTokens = 1, DecodeTokens = 1, PrefillLengths = [1], WarmupSeconds = 0 }));
        Assert.Same(load, row.Load);
        PeakMemory peak = Assert.IsType<PeakMemory>(row.Peak);
        Assert.Equal(!ProcessMemory.TryResetPeak(), peak.SinceProcessStart);

        // With the pages touched the model's share is its weights: at least 90 % of them, at most file + KV cache + 10 %.
        long ceiling = fileBytes + kvCache + fileBytes / 10;
        long touched = ProcessMemory.ResidentBytes() - load.ResidentBeforeBytes;
        Assert.InRange(touched, weightBytes * 9 / 10, ceiling);
        Assert.InRange(peak.Bytes - load.ResidentBeforeBytes, weightBytes * 9 / 10, ceiling);
    }
}
