using Microsoft.ML;
using MlPipelines.ManagedEngine.Parity;
using MlPipelines.OnnxEngine.Tests.Onnx;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

public class ParityTransformTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    private readonly MLContext _ml = new(seed: 1);

    [Fact]
    public void Parity_columns_show_the_engines_agree_row_by_row_and_survive_save_and_load()
    {
        var texts = TextRows.Varied(12);
        IDataView data = TextRows.Load(_ml, texts);
        var managed = LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin);
        var onnx = LlamaModelReference.Onnx(f.ExportDirectory);
        ITransformer fitted = _ml.Transforms.Text.CompareLlamaEngines(managed, onnx, "Text",
            new LlamaParityOptions { Parity = new ParityOptions { Steps = 16 } }).Fit(data);
        IDataView view = fitted.Transform(data);

        var maxDiff = TextRows.Column<double>(view, "ParityMaxAbsLogitDiff");
        Assert.Equal(12, maxDiff.Count);
        Assert.All(maxDiff, d => Assert.InRange(d, 0, 1e-4));
        Assert.All(TextRows.Column<bool>(view, "ParityGreedyIdentical"), Assert.True);
        Assert.All(TextRows.Column<int>(view, "ParityFirstDivergence"), d => Assert.Equal(-1, d));
        Assert.All(TextRows.Column<double>(view, "ParityEmbeddingCosine"), c => Assert.True(c >= 0.99999));
        Assert.All(TextRows.Column<bool>(view, "ParityPassed"), Assert.True);
        Assert.All(TextRows.Column<double>(view, "ParityTop1Agreement"), t => Assert.Equal(1.0, t));

        using var dir = new TempDir();
        LlamaPipelineModel.Save(_ml, fitted, data.Schema, dir.File("parity.zip"));
        IDataView reloaded = LlamaPipelineModel.Load(_ml, dir.File("parity.zip"), out _).Transform(data);
        Assert.Equal(maxDiff, TextRows.Column<double>(reloaded, "ParityMaxAbsLogitDiff"));
    }
}
