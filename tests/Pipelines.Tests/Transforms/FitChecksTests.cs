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
                     _ml.Transforms.Text.GenerateWithLlama(reference, "Out", "Text", new LlamaGenerateOptions { InputColumn = "Text", OutputColumn = "Out" }),
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
