using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>
/// <c>mlContext.Model.CreatePredictionEngine</c> runs a pipeline of all three LLaMA transforms one row at a time and
/// gives, row for row, what the batched <c>Transform</c> gives, on both engines, fresh and after save and load.
/// </summary>
public class PredictionEngineTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    public sealed class Input
    {
        public string Text { get; set; } = "";
    }

    public sealed class Output
    {
        public int[] Tokens { get; set; } = [];
        public float[] Embedding { get; set; } = [];
        public string Completion { get; set; } = "";
    }

    private static ITransformer Fit(MLContext ml, LlamaModelReference model, IDataView data) =>
        ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text")
            .Append(ml.Transforms.Text.EmbedWithLlama(model, "Embedding", "Text"))
            .Append(ml.Transforms.Text.GenerateWithLlama(model, "Completion", "Text",
                new LlamaGenerateOptions { MaxNewTokens = 16 }))
            .Fit(data);

    public static TheoryData<string> Engines => new() { "managed", "onnx" };

    [Theory]
    [MemberData(nameof(Engines))]
    public void Single_rows_give_what_the_batched_transform_gives(string engine)
    {
        var ml = new MLContext(seed: 3);
        var model = engine == "managed" ? LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin) : LlamaModelReference.Onnx(f.ExportDirectory);
        List<string> texts = TextRows.Varied(6);
        IDataView data = ml.Data.LoadFromEnumerable(texts.Select(t => new Input { Text = t }).ToList());
        ITransformer fitted = Fit(ml, model, data);
        List<Output> batched = ml.Data.CreateEnumerable<Output>(fitted.Transform(data), reuseRowObject: false).ToList();

        using var dir = new TempDir();
        LlamaPipelineModel.Save(ml, fitted, data.Schema, dir.File("p.zip"));
        ITransformer reloaded = LlamaPipelineModel.Load(new MLContext(), dir.File("p.zip"), out _);

        foreach (ITransformer transformer in new[] { fitted, reloaded })
        {
            using var engineForRows = ml.Model.CreatePredictionEngine<Input, Output>(transformer);
            for (int i = 0; i < texts.Count; i++)
            {
                Output single = engineForRows.Predict(new Input { Text = texts[i] });
                Assert.Equal(batched[i].Tokens, single.Tokens);
                Assert.Equal(batched[i].Embedding, single.Embedding);
                Assert.Equal(batched[i].Completion, single.Completion);   // greedy: the row's position does not matter
            }
        }
    }
}
