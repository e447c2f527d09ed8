using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

public class PersistenceTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    private readonly MLContext _ml = new(seed: 1);

    /// <summary>A pipeline mixing ML.NET's own transforms with all three LLaMA ones.</summary>
    private IEstimator<ITransformer> Pipeline(LlamaModelReference model) =>
        _ml.Transforms.CopyColumns("Prompt", "Text")
            .Append(_ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text", tokenCountColumnName: "Count"))
            .Append(_ml.Transforms.Text.EmbedWithLlama(model, "Embedding", "Text"))
            .Append(_ml.Transforms.NormalizeMinMax("Scaled", "Embedding"))
            .Append(_ml.Transforms.Text.GenerateWithLlama(model, "Completion", "Prompt",
                new LlamaGenerateOptions { MaxNewTokens = 12, Temperature = 0.8f, Seed = 5, StopStrings = ["!"] }));

    private static (List<int[]>, List<float[]>, List<float[]>, List<string>) Outputs(IDataView view) => (
        TextRows.Column<VBuffer<int>>(view, "Tokens").Select(v => v.DenseValues().ToArray()).ToList(),
        TextRows.Column<VBuffer<float>>(view, "Embedding").Select(v => v.DenseValues().ToArray()).ToList(),
        TextRows.Column<VBuffer<float>>(view, "Scaled").Select(v => v.DenseValues().ToArray()).ToList(),
        TextRows.Column<ReadOnlyMemory<char>>(view, "Completion").Select(m => m.ToString()).ToList());

    private void AssertRoundTrip(LlamaModelReference model)
    {
        IDataView data = TextRows.Load(_ml, TextRows.Varied(20));
        ITransformer fitted = Pipeline(model).Fit(data);
        using var dir = new TempDir();
        string path = dir.File("pipeline.zip");
        LlamaPipelineModel.Save(_ml, fitted, data.Schema, path);

        ITransformer loaded = LlamaPipelineModel.Load(new MLContext(), path, out DataViewSchema schema);
        Assert.Equal(data.Schema.Select(c => c.Name), schema.Select(c => c.Name));
        var (tokens, embeddings, scaled, completions) = Outputs(fitted.Transform(data));
        var (tokens2, embeddings2, scaled2, completions2) = Outputs(loaded.Transform(data));
        Assert.Equal(tokens, tokens2);
        Assert.Equal(embeddings, embeddings2);
        Assert.Equal(scaled, scaled2);
        Assert.Equal(completions, completions2);
    }

    [Fact]
    public void Managed_pipeline_round_trips_with_identical_outputs() =>
        AssertRoundTrip(LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin));

    [Fact]
    public void Onnx_pipeline_round_trips_with_identical_outputs() => AssertRoundTrip(LlamaModelReference.Onnx(f.ExportDirectory));

    /// <summary>ONNX Runtime on a model named as a checkpoint (exported into the cache), not an export directory.</summary>
    [Fact]
    public void Onnx_pipeline_on_a_checkpoint_round_trips_with_identical_outputs() =>
        AssertRoundTrip(LlamaModelReference.Onnx(TestPaths.Stories260K, tokenizer: TestPaths.Tok512Bin));

    [Fact]
    public void A_changed_or_moved_model_file_is_a_clear_error_on_load()
    {
        using var dir = new TempDir();
        string checkpoint = dir.File("model.bin"), tokenizer = dir.File("tok512.bin");
        File.Copy(TestPaths.Stories260K, checkpoint);
        File.Copy(TestPaths.Tok512Bin, tokenizer);
        IDataView data = TextRows.Load(_ml, ["hello"]);
        ITransformer fitted = _ml.Transforms.Text.EmbedWithLlama(LlamaModelReference.Managed(checkpoint, tokenizer), "E", "Text").Fit(data);
        string path = dir.File("pipeline.zip");
        LlamaPipelineModel.Save(_ml, fitted, data.Schema, path);
        LlamaPipelineModel.Load(_ml, path, out _);   // unchanged: loads

        byte[] bytes = File.ReadAllBytes(checkpoint);
        bytes[^1] ^= 0x40;                         // one bit of one weight
        File.WriteAllBytes(checkpoint, bytes);
        var changed = Assert.Throws<InvalidDataException>(() => LlamaPipelineModel.Load(_ml, path, out _));
        Assert.Contains("model.bin", changed.Message);
        Assert.Contains("changed", changed.Message);

        File.Move(checkpoint, dir.File("elsewhere.bin"));
        var moved = Assert.Throws<FileNotFoundException>(() => LlamaPipelineModel.Load(_ml, path, out _));
        Assert.Contains("model.bin", moved.Message);
        Assert.Contains("no longer exists", moved.Message);
    }

    [Fact]
    public void Mlnet_save_explains_the_alternative_and_bad_files_are_reported()
    {
        IDataView data = TextRows.Load(_ml, ["hello"]);
        ITransformer fitted = _ml.Transforms.Text.TokenizeWithLlama(LlamaModelReference.Managed(TestPaths.Stories260K), "T", "Text").Fit(data);
        using var dir = new TempDir();
        var e = Assert.ThrowsAny<Exception>(() => _ml.Model.Save(fitted, data.Schema, dir.File("x.zip")));
        Assert.Contains("LlamaPipelineModel.Save", e.ToString());

        // The other way round: ML.NET's own loader, given one of our files, says what to call instead.
        LlamaPipelineModel.Save(_ml, fitted, data.Schema, dir.File("ours.zip"));
        var load = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(dir.File("ours.zip"), out _));
        Exception cause = load;   // ML.NET calls the loader through reflection, which wraps what it throws
        while (cause.InnerException is { } inner) cause = inner;
        Assert.IsType<InvalidOperationException>(cause);
        Assert.Contains("LlamaPipelineModel.Load(mlContext, path, out inputSchema)", cause.Message);
        Assert.DoesNotContain("legacy", load.ToString());

                File.WriteAllText(dir.File("junk.zip"), "not a zip");
        Assert.Throws<InvalidDataException>(() => LlamaPipelineModel.Load(_ml, dir.File("junk.zip"), out _));
        Assert.Throws<FileNotFoundException>(() => LlamaPipelineModel.Load(_ml, dir.File("missing.zip"), out _));
    }
}
