using System.Text.Json;
using MlPipelines.Exporter;
using MlPipelines.Exporter.Onnx;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.Tests.Support;
using static MlPipelines.Exporter.LlamaOnnxNames;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// Exports made by other tools, built here by rewriting our own export into their contract: Optimum writes
/// <c>config.json</c> and the tokenizer beside <c>model.onnx</c> (no <c>mlpipe.json</c>) and returns no
/// <c>last_hidden_state</c>. The ONNX engine loads such a directory, reports its contract, and the parity harness
/// compares it with the managed engine on logits and greedy text (embeddings skipped, and said so).
/// </summary>
public sealed class ForeignExportTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    /// <summary>Our export as Optimum would lay it out: config.json instead of mlpipe.json, and optionally logits only.</summary>
    private static string AsOptimumExport(string export, TempDir dir, bool dropHiddenState, params string[] dropOutputs) =>
        AsOptimumExport(export, dir, dropHiddenState, dropPositionIds: false, dropOutputs);

    private static string AsOptimumExport(string export, TempDir dir, bool dropHiddenState, bool dropPositionIds, params string[] dropOutputs) =>
        OptimumExportWriter.Write(export, dir.File("optimum"), dropHiddenState, dropPositionIds, dropOutputs);

    [Fact]
    public void An_export_without_position_ids_numbers_the_tokens_from_the_mask_and_agrees_with_the_managed_engine()
    {
        using var dir = new TempDir();
        using var onnx = OnnxLanguageModel.Load(AsOptimumExport(f.ExportDirectory, dir, dropHiddenState: true, dropPositionIds: true));
        Assert.False(onnx.Contract.HasPositionIds);
        Assert.Contains("no position_ids", onnx.Contract.ToString());
        ParityReport report = ParityHarness.Compare(f.Managed, onnx, onnx.LoadTokenizer(), ["Once upon a time", "Lily saw a big red ball"],
            new ParityOptions { Steps = 24 });
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);

        // A padded batch (left and right) too: the graph's own positions skip the padding as ours do.
        int[][] batch = [[1, 403, 407, 261, 378], [1, 403]];
        foreach (var side in new[] { PaddingSide.Left, PaddingSide.Right })
        {
            var result = onnx.ForwardBatch(batch, BatchOutputs.Logits, side);
            var expected = f.Onnx.ForwardBatch(batch, BatchOutputs.Logits, side);
            float worst = 0;
            for (int row = 0; row < batch.Length; row++)
                for (int p = 0; p < batch[row].Length; p++)
                {
                    ReadOnlySpan<float> a = expected.Logits(row, p), b = result.Logits(row, p);
                    for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
                }
            Assert.InRange(worst, 0, 1e-5f);
        }
    }

    [Fact]
    public void An_optimum_style_export_loads_from_its_config_json_and_reports_its_contract()
    {
        using var dir = new TempDir();
        string export = AsOptimumExport(f.ExportDirectory, dir, dropHiddenState: true);
        using var onnx = OnnxLanguageModel.Load(export);
        Assert.Equal("foreign", onnx.Manifest.Profile);
        Assert.Equal(new OnnxDecoderContract("optimum", f.Managed.Config.LayerCount, f.Managed.Config.KvHeadCount, f.Managed.Config.HeadDim,
            f.Managed.Config.VocabSize, HasPositionIds: true, HasLastHiddenState: false), onnx.Contract);
        Assert.Equal(f.Managed.Config with { StopIds = onnx.Config.StopIds }, onnx.Config);
        Assert.Equal("tokenizer.model", onnx.Manifest.TokenizerFile);

        // Logits, but no hidden states: asking for them says so.
        using var session = onnx.CreateSession();
        var logits = new float[onnx.Config.VocabSize];
        session.Forward([1, 403, 407], 0, logits);
        var error = Assert.Throws<NotSupportedException>(() => session.Forward([261], 3, logits, new float[onnx.Config.Dim]));
        Assert.Contains(LastHiddenState, error.Message);
    }

    [Fact]
    public void Parity_compares_logits_and_greedy_text_with_a_logits_only_export_and_skips_embeddings()
    {
        using var dir = new TempDir();
        using var onnx = OnnxLanguageModel.Load(AsOptimumExport(f.ExportDirectory, dir, dropHiddenState: true));
        var tokenizer = onnx.LoadTokenizer();
        ParityReport report = ParityHarness.Compare(f.Managed, onnx, tokenizer, ["Once upon a time", "Lily saw a big red ball"],
            new ParityOptions { Steps = 24 });
        Assert.False(report.EmbeddingsCompared);
        Assert.True(report.Passed, string.Join("; ", report.Failures));
        Assert.InRange(report.MaxAbsLogitDiff, 0, 1e-4);
        Assert.True(report.GreedyIdentical);
        var text = new StringWriter();
        report.WriteText(text);
        Assert.Contains("embeddings not compared", text.ToString());
    }

    [Fact]
    public void A_graph_that_fits_no_contract_is_refused_naming_what_is_missing()
    {
        using var dir = new TempDir();
        string export = AsOptimumExport(f.ExportDirectory, dir, dropHiddenState: false, PresentKey(0));
        var error = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(export));
        Assert.Contains($"output '{PresentKey(0)}'", error.Message);
    }

    [Fact]
    public void A_directory_with_neither_manifest_nor_config_json_is_refused()
    {
        using var dir = new TempDir();
        string export = AsOptimumExport(f.ExportDirectory, dir, dropHiddenState: false);
        File.Delete(Path.Combine(export, "config.json"));
        var error = Assert.Throws<FileNotFoundException>(() => OnnxLanguageModel.Load(export));
        Assert.Contains("config.json", error.Message);
    }
}
