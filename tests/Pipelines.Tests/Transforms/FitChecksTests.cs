using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>Mistakes that only showed while rows were read (or never) are errors at Fit, naming what is wrong.</summary>
public class FitChecksTests
{
    private readonly MLContext _ml = new(seed: 1);
    private static string TinyGguf => Path.Combine(TestPaths.Models, "tiny-random-gguf", "llama-2-tiny-random.gguf");

    public static TheoryData<string, string, int, int> Mismatches() => new()
    {
        { TinyGguf, TestPaths.Tok512Model, 512, 32000 },              // a smaller tokenizer: used to tokenize silently
        { TestPaths.Stories260K, TestPaths.Llama2TokenizerModel, 32000, 512 },   // a larger one
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void A_tokenizer_of_another_vocabulary_is_rejected_at_Fit_naming_both(string model, string tokenizer, int tokens, int vocab)
    {
        IDataView data = TextRows.Load(_ml, ["Once upon a time"]);
        var reference = LlamaModelReference.Managed(model, tokenizer);
        foreach (IEstimator<ITransformer> estimator in new IEstimator<ITransformer>[]
                 {
                     _ml.Transforms.Text.TokenizeWithLlama(reference, "Tokens", "Text"),
                     _ml.Transforms.Text.EmbedWithLlama(reference, "Embedding", "Text"),
                     _ml.Transforms.Text.GenerateWithLlama(reference, "Out", "Text", new LlamaGenerateOptions()),
                 })
        {
            var e = Assert.Throws<ArgumentException>(() => estimator.Fit(data));
            Assert.Contains(tokenizer, e.Message);
            Assert.Contains(model, e.Message);
            Assert.Contains($"{tokens} tokens", e.Message);
            Assert.Contains($"vocabulary of {vocab}", e.Message);
        }
    }

    [Fact]
    public void A_missing_model_is_an_error_when_the_reference_is_made()
    {
        var e = Assert.Throws<FileNotFoundException>(() => LlamaModelReference.Managed("no-such-model-anywhere"));
        Assert.Contains("no-such-model-anywhere", e.Message);
    }
}

/// <summary>Token ids as Int64, the type ONNX models downstream take for input_ids.</summary>
public class Int64TokenTests
{
    [Fact]
    public void Int64_ids_equal_the_Int32_ids_and_survive_save_and_load()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = TextRows.Load(ml, TextRows.Varied(5));
        var model = LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);
        ITransformer fitted = ml.Transforms.Text.TokenizeWithLlama(model, "Ids32", "Text")
            .Append(ml.Transforms.Text.TokenizeWithLlama(model, "Ids64", "Text", tokenIdType: Microsoft.ML.Data.DataKind.Int64)).Fit(data);
        using var dir = new TempDir();
        LlamaPipelineModel.Save(ml, fitted, data.Schema, dir.File("p.zip"));
        foreach (ITransformer t in new[] { fitted, LlamaPipelineModel.Load(new MLContext(), dir.File("p.zip"), out _) })
        {
            IDataView output = t.Transform(data);
            Assert.Equal(Microsoft.ML.Data.NumberDataViewType.Int64, ((Microsoft.ML.Data.VectorDataViewType)output.Schema["Ids64"].Type).ItemType);
            var ids32 = TextRows.Column<Microsoft.ML.Data.VBuffer<int>>(output, "Ids32").Select(v => v.DenseValues().Select(i => (long)i).ToArray());
            var ids64 = TextRows.Column<Microsoft.ML.Data.VBuffer<long>>(output, "Ids64").Select(v => v.DenseValues().ToArray());
            Assert.Equal(ids32, ids64);
        }
    }
}

/// <summary>Column names in one place: the catalog call's arguments, the input defaulting to the output as in ML.NET.</summary>
public class GenerateColumnTests
{
    [Fact]
    public void The_input_defaults_to_the_output_column_and_columns_are_named_by_the_call_only()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = TextRows.Load(ml, ["Once upon a time"]);
        var model = LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);

        IDataView replaced = ml.Transforms.Text.GenerateWithLlama(model, "Text", options: null).Fit(data).Transform(data);
        string completion = TextRows.Column<ReadOnlyMemory<char>>(replaced, "Text")[0].ToString();
        Assert.False(completion.StartsWith("Once upon a time", StringComparison.Ordinal));   // the completion, not the prompt
        Assert.NotEmpty(completion);

        // One options object serves two stages on different columns: it holds settings only, the calls name the columns.
        var settings = new LlamaGenerateOptions { MaxNewTokens = 4 };
        IDataView two = ml.Transforms.Text.GenerateWithLlama(model, "First", "Text", settings)
            .Append(ml.Transforms.Text.GenerateWithLlama(model, "Second", "First", settings))
            .Fit(data).Transform(data);
        string first = TextRows.Column<ReadOnlyMemory<char>>(two, "First")[0].ToString();
        Assert.NotEmpty(first);
        Assert.NotEmpty(TextRows.Column<ReadOnlyMemory<char>>(two, "Second")[0].ToString());
        Assert.Equal("", settings.InputColumn);   // the caller's options are not modified
    }
}
