using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// A GroupQueryAttention graph from another tool that says nothing about sharing its KV buffer: no <c>mlpipe.profile</c>
/// metadata, no <c>genai_config.json</c>, only a <c>config.json</c>. Run with separate past and present buffers (the
/// portable binding), it still computes what the managed engine computes.
/// </summary>
public sealed class ForeignFusedExportTests(FusedStoriesFixture f) : IClassFixture<FusedStoriesFixture>
{
    [Fact]
    public void A_fused_graph_without_a_sharing_hint_runs_with_separate_past_and_present_buffers()
    {
        using var dir = new TempDir();
        string target = dir.File("gqa");
        ModelProto model = OptimumExportWriter.ReadGraphWithoutMetadata(f.ExportDirectory, target);
        OptimumExportWriter.WriteGraph(model, Path.Combine(target, ExportManifest.ModelFileName));
        File.WriteAllText(Path.Combine(target, "config.json"), HuggingFaceCheckpointWriter.Config(ExportManifest.Read(f.ExportDirectory).Config).ToJsonString());
        File.Copy(TestPaths.Tok512Model, Path.Combine(target, "tokenizer.model"));

        using var onnx = OnnxLanguageModel.Load(target);
        Assert.False(onnx.Contract.SharedKvBuffer);
        ParityReport report = ParityHarness.Compare(f.Managed, onnx, onnx.LoadTokenizer(), ["Once upon a time", "Lily saw a big red ball"],
            new ParityOptions { Steps = 24 });
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.True(report.GreedyIdentical);
    }
}
