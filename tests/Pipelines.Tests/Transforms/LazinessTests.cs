using Microsoft.ML;
using Microsoft.ML.Data;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

public class LazinessTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly CountingModel _counting;
    private readonly LlamaModelReference _model;
    private readonly MlPipelines.ManagedEngine.Inference.TransformerModel _inner;

    public LazinessTests()
    {
        _inner = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        _counting = new CountingModel(_inner);
        _model = LlamaModelReference.FromLoaded(new LoadedModel(_counting, ManagedModelLoader.LoadTokenizer(TestPaths.Tok512Bin, null), ResolvedModel.Resolve(TestPaths.Stories260K, TestPaths.Tok512Bin)));
    }

    public void Dispose() => _inner.Dispose();

    [Fact]
    public void Nothing_is_computed_until_a_computed_column_is_read()
    {
        IDataView data = TextRows.Load(_ml, TextRows.Varied(100));
        var pipeline = _ml.Transforms.Text.EmbedWithLlama(_model, "E", "Text", new EmbeddingOptions { BatchSize = 4 })
            .Append(_ml.Transforms.Text.GenerateWithLlama(_model, "G", "Text"));
        IDataView view = pipeline.Fit(data).Transform(data);
        Assert.Equal(0, _counting.RowsComputed);
        Assert.Equal(0, _counting.SessionsCreated);

        // Reading only the input column computes nothing.
        Assert.Equal(100, TextRows.Column<string>(view, "Text").Count);
        Assert.Equal(0, _counting.RowsComputed);

        // Reading 3 embeddings computes one batch of 4 rows, and no generation.
        using (var cursor = view.GetRowCursor([view.Schema["E"]]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(view.Schema["E"]);
            VBuffer<float> value = default;
            for (int i = 0; i < 3 && cursor.MoveNext(); i++) getter(ref value);
        }
        Assert.Equal(4, _counting.RowsComputed);
        Assert.Equal(0, _counting.SessionsCreated);

        // Moving past rows without reading them skips their batches.
        using (var cursor = view.GetRowCursor([view.Schema["E"]]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(view.Schema["E"]);
            VBuffer<float> value = default;
            while (cursor.MoveNext())
                if (cursor.Position == 97) getter(ref value);
        }
        Assert.Equal(4 + 3, _counting.RowsComputed);   // rows 97..99
    }

    [Fact]
    public async Task Two_cursors_on_two_threads_give_the_sequential_results()
    {
        IDataView data = TextRows.Load(_ml, TextRows.Varied(64));
        IDataView view = _ml.Transforms.Text.EmbedWithLlama(_model, "E", "Text", new EmbeddingOptions { BatchSize = 5 })
            .Append(_ml.Transforms.Text.TokenizeWithLlama(_model, "T", "Text"))
            .Fit(data).Transform(data);
        List<float[]> Read() => TextRows.Column<VBuffer<float>>(view, "E").Select(v => v.DenseValues().ToArray()).ToList();
        List<float[]> sequential = Read();

        var barrier = new Barrier(2);
        List<float[]> ReadTogether() { barrier.SignalAndWait(); return Read(); }
        var first = Task.Factory.StartNew(ReadTogether, TaskCreationOptions.LongRunning);
        var second = Task.Factory.StartNew(ReadTogether, TaskCreationOptions.LongRunning);
        var results = await Task.WhenAll(first, second);
        Assert.Equal(sequential, results[0]);
        Assert.Equal(sequential, results[1]);
    }

    [Fact]
    public void Saving_a_pipeline_over_a_loaded_instance_explains_what_to_do()
    {
        IDataView data = TextRows.Load(_ml, ["a"]);
        ITransformer fitted = _ml.Transforms.Text.TokenizeWithLlama(_model, "T", "Text").Fit(data);
        using var dir = new TempDir();
        var e = Assert.Throws<NotSupportedException>(() => LlamaPipelineModel.Save(_ml, fitted, data.Schema, dir.File("p.zip")));
        Assert.Contains("LlamaModelReference.Managed", e.Message);
        Assert.False(File.Exists(dir.File("p.zip")));
    }
}
