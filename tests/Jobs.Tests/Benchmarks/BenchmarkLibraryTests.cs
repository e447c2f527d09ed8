using MlPipelines.Jobs.Benchmarks;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.Benchmarks;

/// <summary>The reusable measuring code: statistics, option checks, model preparation. No timing assertions.</summary>
public sealed class BenchmarkLibraryTests : IDisposable
{
    private readonly TempDir _cache = new();

    public void Dispose() => _cache.Dispose();

    [Fact]
    public void Measurement_takes_the_median_min_and_max_and_keeps_run_order()
    {
        var odd = Measurement.Of([3.0, 1.0, 2.0]);
        Assert.Equal((2.0, 1.0, 3.0), (odd.Median, odd.Min, odd.Max));
        Assert.Equal([3.0, 1.0, 2.0], odd.Runs);
        Assert.Equal(2.5, Measurement.Of([4.0, 1.0, 2.0, 3.0]).Median);
        Assert.Throws<ArgumentException>(() => Measurement.Of([]));
    }

    [Fact]
    public void Options_are_checked_against_the_context()
    {
        var config = ModelShapes.Stories15M; // context 256
        var e = Assert.Throws<ArgumentException>(() => new BenchmarkOptions { PrefillLengths = [128, 512] }.Validate(config));
        Assert.Contains("Prefill length 512", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BenchmarkOptions { Runs = 0 }.Validate(config));
        Assert.Throws<ArgumentException>(() => new BenchmarkOptions { DecodeTokens = 250, PrefillLengths = [128] }.Validate(config));
        new BenchmarkOptions { PrefillLengths = [128] }.Validate(config);
        Assert.Equal([128], BenchmarkOptions.DefaultPrefillLengthsFor(256));
        Assert.Equal([128, 512], BenchmarkOptions.DefaultPrefillLengthsFor(1024));
    }

    [Fact]
    public void Parameter_count_matches_the_15m_shape() =>
        Assert.Equal(15_191_712, BenchmarkModelInfo.ParameterCount(ModelShapes.Stories15M));

    [Fact]
    public void Machine_info_describes_this_machine()
    {
        var m = MachineInfo.Current();
        Assert.Equal(Environment.ProcessorCount, m.LogicalCores);
        Assert.Contains(m.SimdWidth, new[] { 128, 256, 512 });
        Assert.False(string.IsNullOrWhiteSpace(m.Cpu));
        Assert.StartsWith(".NET", m.DotNet);
    }

    [Fact]
    public void A_shape_is_synthesized_once_into_the_cache()
    {
        var first = BenchmarkModel.FromShape("15M", _cache.Path, out bool synthesized);
        Assert.True(synthesized);
        Assert.Equal(Path.Combine(_cache.Path, "synth", "15m.bin"), first.Checkpoint);
        Assert.Equal(ModelShapes.Stories15M.Dim, first.Config.Dim);
        DateTime written = File.GetLastWriteTimeUtc(first.Checkpoint!);

        var second = BenchmarkModel.FromShape("15m", _cache.Path, out synthesized);
        Assert.False(synthesized);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second.Checkpoint!));
    }

    [Fact]
    public void A_checkpoint_is_exported_into_the_cache_for_the_onnx_engine_and_measured()
    {
        var subject = BenchmarkModel.FromPath(TestPaths.Stories260K, null, _cache.Path);
        using var onnx = subject.Open(EngineKind.Onnx, threads: 1);
        Assert.Single(Directory.GetDirectories(Path.Combine(_cache.Path, "onnx")));
        using var managed = subject.Open(EngineKind.Managed, threads: 1);

        var rows = EngineBenchmark.Run(
            [new BenchmarkTarget("managed", 1, managed), new BenchmarkTarget("onnx", 1, onnx)],
            new BenchmarkOptions { Runs = 1, DecodeTokens = 4, PrefillLengths = [8], WarmupSeconds = 0 });

        Assert.Equal(["managed", "onnx"], rows.Select(r => r.Engine));
        Assert.All(rows, r => Assert.True(r.DecodeTokensPerSecond.Median > 0 && r.Prefill[0].TokensPerSecond.Median > 0));
    }

    [Fact]
    public void A_target_records_how_its_engine_holds_the_weights()
    {
        var f32 = BenchmarkModel.FromPath(TestPaths.Stories260K, null, _cache.Path);
        Assert.Equal("F32", f32.WeightFormat.Name);
        long kvCache = 5L * 2 * 512 * 32 * 4;   // stories260K: 5 layers, context 512, kv_dim 32
        AssertLoad(f32, EngineKind.Managed, null, new ModelLoad("F32", false, 0, 0, kvCache));
        AssertLoad(f32, EngineKind.Managed, "q8_0", new ModelLoad("Q8_0 (quantised on load)", true, 0, 0, kvCache));
        AssertLoad(f32, EngineKind.Onnx, null, new ModelLoad("F32", false, 0, 0, null));

        var int8 = BenchmarkModel.FromPath(Path.Combine(TestPaths.Models, "stories260K", "stories260K_q80.bin"), null, _cache.Path);
        AssertLoad(int8, EngineKind.Managed, "q8_0", new ModelLoad("Q8_0", false, 0, 0, kvCache));   // int8 already: run as stored

        var f16 = BenchmarkModel.FromPath(Path.Combine(TestPaths.Models, "tiny-random-gguf"), null, _cache.Path);
        Assert.Equal("F16", f16.Describe(synthetic: false).WeightFormat!.Name);
        // The engine either widens F16 matrices to fp32 on load or computes with them as stored; the row says which.
        var target = f16.OpenTarget(EngineKind.Managed, threads: 1);
        using (target.Model)
            Assert.Contains(target.Load!.Weights, new[] { "F32 (converted on load)", "F16" });
        Assert.Equal(2L * 1 * 4096 * 8 * 4, target.Load.KvCacheBytes);   // 1 layer, context 4096, kv_dim 8
    }

    // The memory readings are checked for plausibility only; the rest exactly.
    private static void AssertLoad(BenchmarkModel subject, EngineKind engine, string? quantization, ModelLoad expected)
    {
        var target = subject.OpenTarget(engine, threads: 1, quantization);
        using var model = target.Model;
        ModelLoad load = Assert.IsType<ModelLoad>(target.Load);
        Assert.True(load.ResidentBeforeBytes > 0 && load.ResidentAfterBytes > 0, load.ToString());
        Assert.Equal(load.ResidentAfterBytes - load.ResidentBeforeBytes, load.ModelBytes);
        Assert.Equal(expected, load with { ResidentBeforeBytes = 0, ResidentAfterBytes = 0 });
        Assert.Equal(BenchmarkModel.EngineName(engine), target.Engine);
        Assert.True(target.LoadSeconds > 0);
    }

    [Fact]
    public void Quantization_is_for_the_managed_engine_only()
    {
        var e = Assert.Throws<NotSupportedException>(() => BenchmarkModel.CheckQuantization(EngineKind.Onnx, "q8_0"));
        Assert.Contains("q8_0", e.Message);
        BenchmarkModel.CheckQuantization(EngineKind.Managed, null);
        BenchmarkModel.CheckQuantization(EngineKind.Managed, "q8_0");
    }
}
