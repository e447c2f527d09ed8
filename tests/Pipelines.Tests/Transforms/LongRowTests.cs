using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>
/// Rows longer than the context follow one documented policy per transform: errors name the column and the row, and
/// generation never gives fewer new tokens than asked without saying why.
/// </summary>
public class LongRowTests
{
    private readonly MLContext _ml = new(seed: 1);
    private static LlamaModelReference Model => LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);

    // stories260K's context is 512 positions; this text is far longer.
    private static readonly string Long = string.Join(' ', Enumerable.Repeat("Once upon a time there was a little dog.", 120));
    private static readonly string[] Texts = ["A short one.", Long];

    private List<float[]> Embed(EmbeddingOptions options)
    {
        IDataView data = TextRows.Load(_ml, Texts);
        return TextRows.Column<VBuffer<float>>(_ml.Transforms.Text.EmbedWithLlama(Model, "E", "Text", options).Fit(data).Transform(data), "E")
            .Select(v => v.DenseValues().ToArray()).ToList();
    }

    [Fact]
    public void Embedding_keeps_the_start_by_default_the_end_on_request_and_errors_name_column_and_row()
    {
        var tokenizer = ManagedModelLoader.LoadTokenizer(TestPaths.Tok512Bin, null);
        Assert.True(tokenizer.Encode(Long, addBos: true, addEos: false).Length > 512);

        List<float[]> start = Embed(new EmbeddingOptions()), end = Embed(new EmbeddingOptions { LongInputs = LongInputPolicy.TruncateStart });
        Assert.Equal(start[0], end[0]);            // short rows are untouched
        Assert.NotEqual(start[1], end[1]);

        using var model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        var embedder = new Embedder(model, tokenizer, new EmbeddingOptions());
        int[] ids = tokenizer.Encode(Long, addBos: true, addEos: false);
        Assert.Equal(embedder.EmbedTokens([ids[..512]])[0], start[1]);                       // the first 512 tokens
        Assert.Equal(embedder.EmbedTokens([[ids[0], .. ids[^511..]]])[0], end[1]);            // BOS and the last 511

        var e = Assert.Throws<ArgumentException>(() => Embed(new EmbeddingOptions { LongInputs = LongInputPolicy.Error }));
        Assert.Contains("Column 'Text', row 1", e.Message);
        Assert.Contains("at most 512", e.Message);
    }

    [Fact]
    public void A_prompt_that_leaves_no_room_is_refused_by_default_and_truncated_on_request_with_the_reason_reported()
    {
        IDataView data = TextRows.Load(_ml, Texts);
        var refuse = new LlamaGenerateOptions { MaxNewTokens = 32, FinishReasonColumn = "Why" };
        var e = Assert.Throws<ArgumentException>(() =>
            TextRows.Column<ReadOnlyMemory<char>>(_ml.Transforms.Text.GenerateWithLlama(Model, "Out", "Text", refuse).Fit(data).Transform(data), "Out"));
        Assert.Contains("Column 'Text', row 1", e.Message);
        Assert.Contains("at most 480", e.Message);

        var truncate = refuse with { LongPrompts = LongInputPolicy.TruncateStart, StopStrings = [] };
        IDataView output = _ml.Transforms.Text.GenerateWithLlama(Model, "Out", "Text", truncate).Fit(data).Transform(data);
        List<string> reasons = TextRows.Column<ReadOnlyMemory<char>>(output, "Why").Select(m => m.ToString()).ToList();
        List<string> texts = TextRows.Column<ReadOnlyMemory<char>>(output, "Out").Select(m => m.ToString()).ToList();
        Assert.All(reasons, r => Assert.Contains(r, new[] { "stop", "length" }));
        Assert.Equal("length", reasons[1]);        // the long prompt still got all 32 new tokens
        Assert.NotEmpty(texts[1]);
    }
}
