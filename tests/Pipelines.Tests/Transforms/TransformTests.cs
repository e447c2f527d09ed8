using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

public class TransformTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    private readonly MLContext _ml = new(seed: 1);

    private LlamaModelReference ManagedRef => LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);
    private LlamaModelReference OnnxRef => LlamaModelReference.Onnx(f.ExportDirectory);

    private IEstimator<ITransformer> Pipeline(LlamaModelReference model, int maxNewTokens = 24) =>
        _ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text", tokenCountColumnName: "TokenCount")
            .Append(_ml.Transforms.Text.EmbedWithLlama(model, "Embedding", "Text", new EmbeddingOptions { BatchSize = 16 }))
            .Append(_ml.Transforms.Text.GenerateWithLlama(model, "Completion", "Text", new LlamaGenerateOptions
            {
                MaxNewTokens = maxNewTokens,
            }));

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return dot / Math.Sqrt(na * nb);
    }

    [Fact]
    public void Both_engines_give_the_same_tokens_text_and_embeddings_over_a_varied_dataset()
    {
        IDataView data = TextRows.Load(_ml, TextRows.Varied(120));
        IDataView managed = Pipeline(ManagedRef).Fit(data).Transform(data);
        IDataView onnx = Pipeline(OnnxRef).Fit(data).Transform(data);

        var tokensA = TextRows.Column<VBuffer<int>>(managed, "Tokens").Select(v => v.DenseValues().ToArray()).ToList();
        var tokensB = TextRows.Column<VBuffer<int>>(onnx, "Tokens").Select(v => v.DenseValues().ToArray()).ToList();
        Assert.Equal(120, tokensA.Count);
        Assert.Equal(tokensA, tokensB);
        Assert.Equal(tokensA.Select(t => t.Length), TextRows.Column<int>(managed, "TokenCount"));

        Assert.Equal(TextRows.Column<ReadOnlyMemory<char>>(managed, "Completion").Select(m => m.ToString()),
                     TextRows.Column<ReadOnlyMemory<char>>(onnx, "Completion").Select(m => m.ToString()));

        var embA = TextRows.Column<VBuffer<float>>(managed, "Embedding").Select(v => v.DenseValues().ToArray()).ToList();
        var embB = TextRows.Column<VBuffer<float>>(onnx, "Embedding").Select(v => v.DenseValues().ToArray()).ToList();
        Assert.All(embA, e => Assert.Equal(64, e.Length));
        double worst = embA.Zip(embB, Cosine).Min();
        Assert.True(worst >= 0.99999, $"lowest cosine similarity between engines: {worst}");
    }

    [Fact]
    public void Stop_strings_end_the_completion()
    {
        IDataView data = TextRows.Load(_ml, ["Once upon a time"]);
        var options = new LlamaGenerateOptions { MaxNewTokens = 80, StopStrings = ["."] };
        string completion = TextRows.Column<ReadOnlyMemory<char>>(
            _ml.Transforms.Text.GenerateWithLlama(ManagedRef, "Out", "Text", options).Fit(data).Transform(data), "Out")[0].ToString();
        Assert.DoesNotContain(".", completion);
        Assert.NotEmpty(completion);
    }

    /// <summary>The transform samples as the engine does when neither is configured: greedily, with run.c's top-p and no top-k.</summary>
    [Fact]
    public void Default_sampling_is_the_engine_s()
    {
        var transform = new LlamaGenerateOptions();
        var engine = new MlPipelines.ManagedEngine.Sampling.SamplingOptions();
        Assert.Equal((engine.Temperature, engine.TopP, engine.TopK), (transform.Temperature, transform.TopP, transform.TopK));
        Assert.Equal(0f, engine.Temperature);
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_row_by_row()
    {
        var texts = TextRows.Varied(8);
        var options = new LlamaGenerateOptions { MaxNewTokens = 20, Temperature = 1f, Seed = 77 };
        var transformer = _ml.Transforms.Text.GenerateWithLlama(ManagedRef, "Out", "Text", options).Fit(TextRows.Load(_ml, texts));
        var all = TextRows.Column<ReadOnlyMemory<char>>(transformer.Transform(TextRows.Load(_ml, texts)), "Out").Select(m => m.ToString()).ToList();
        var again = TextRows.Column<ReadOnlyMemory<char>>(transformer.Transform(TextRows.Load(_ml, texts)), "Out").Select(m => m.ToString()).ToList();
        Assert.Equal(all, again);
        Assert.True(all.Distinct().Count() > 1);

        // Row 5 read alone (skipping rows 0-4 without reading their completions) gives the same text.
        IDataView view = transformer.Transform(TextRows.Load(_ml, texts));
        using var cursor = view.GetRowCursor([view.Schema["Out"]]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(view.Schema["Out"]);
        for (int i = 0; i <= 5; i++) cursor.MoveNext();
        ReadOnlyMemory<char> value = default;
        getter(ref value);
        Assert.Equal(all[5], value.ToString());
    }

    [Fact]
    public void Schema_is_checked_at_fit_and_output_schema_with_mlnet_messages()
    {
        var numbers = _ml.Data.LoadFromEnumerable(new[] { new { Text = 1.5f } });
        var estimator = _ml.Transforms.Text.EmbedWithLlama(ManagedRef, "E", "Text");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => estimator.Fit(numbers));
        Assert.Contains("Schema mismatch for input column 'Text': expected String, got Single", e.Message);

        var shape = estimator.GetOutputSchema(SchemaChecks.ToShape(TextRows.Load(_ml, ["a"]).Schema));
        Assert.Contains(shape, c => c.Name == "E" && c.Kind == SchemaShape.Column.VectorKind.Vector);
        e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.Text.TokenizeWithLlama(ManagedRef, "T", "Missing").GetOutputSchema(SchemaChecks.ToShape(numbers.Schema)));
        Assert.Contains("Could not find input column 'Missing'", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.Text.GenerateWithLlama(ManagedRef, "G", "Text").GetOutputSchema(SchemaChecks.ToShape(numbers.Schema)));
        Assert.Contains("expected String, got Single", e.Message);
    }
}
