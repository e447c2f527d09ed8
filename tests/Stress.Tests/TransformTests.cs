using Microsoft.ML;
using MlPipelines.OnnxEngine;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Stress.Tests.Support;
using MlPipelines.Tests.Support;

namespace MlPipelines.Stress.Tests;

/// <summary>
/// The ML.NET transforms over one loaded model read from many threads at once — cursors over the same transformer,
/// a prediction engine per thread — give row for row what the same reads give alone; disposing the model cache the
/// transformer's model lives in while they read gives each reader its rows or <see cref="ObjectDisposedException"/>.
/// </summary>
[Collection(StressCollection.Name)]
public class TransformTests(StoriesEngines engines)
{
    private const int Readers = 8;

    public sealed class Input
    {
        public string Text { get; set; } = "";
    }

    public sealed class Output
    {
        public string Text { get; set; } = "";
        public int[] Tokens { get; set; } = [];
        public float[] Embedding { get; set; } = [];
        public string Completion { get; set; } = "";

        public override string ToString() => $"{Fingerprint.Of(Tokens)}|{Fingerprint.Of(Embedding)}|{Completion}";
    }

    private static readonly Input[] Rows = Enumerable.Range(0, 8).Select(i => new Input { Text = StoriesCalls.Prompt(i) }).ToArray();

    private LlamaModelReference Reference(string engine, LlamaModelCache cache)
    {
        var options = new EngineOptions { Threads = 3 };   // more threads than CI's cores, in every reader's calls
        return (engine == StoriesEngines.Managed
            ? LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin, options)
            : LlamaModelReference.Onnx(engines.ExportDirectory, options, TestPaths.Tok512Bin)).WithCache(cache);
    }

    private static ITransformer Fit(MLContext ml, LlamaModelReference model, IDataView data) =>
        ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text")
            .Append(ml.Transforms.Text.EmbedWithLlama(model, "Embedding", "Text"))
            .Append(ml.Transforms.Text.GenerateWithLlama(model, "Completion", "Text",
                new LlamaGenerateOptions { MaxNewTokens = 8, Temperature = 0.8f, Seed = 9 }))
            .Fit(data);

    private static string[] ReadAll(MLContext ml, ITransformer transformer, IDataView data) =>
        ml.Data.CreateEnumerable<Output>(transformer.Transform(data), reuseRowObject: false).Select(o => o.ToString()).ToArray();

    private static string[] PredictAll(MLContext ml, ITransformer transformer)
    {
        using PredictionEngine<Input, Output> engine = ml.Model.CreatePredictionEngine<Input, Output>(transformer);
        return Rows.Select(row => engine.Predict(row).ToString()).ToArray();
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Cursors_and_prediction_engines_on_many_threads_give_what_they_give_alone(string engine)
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(Rows);
        using var cache = new LlamaModelCache();
        ITransformer transformer = Fit(ml, Reference(engine, cache), data);
        string[] cursorRows = ReadAll(ml, transformer, data), predictedRows = PredictAll(ml, transformer);

        Concurrently.Run(Readers, reader =>
        {
            for (int k = 0; k < 2; k++)
            {
                // Even readers walk cursors over the same transformer; odd ones own a prediction engine each.
                string[] rows = reader % 2 == 0 ? ReadAll(ml, transformer, data) : PredictAll(ml, transformer);
                Assert.Equal(reader % 2 == 0 ? cursorRows : predictedRows, rows);
            }
        });
        Assert.Equal(1, cache.Count);   // every reader used the one loaded model
    }

    [Theory]
    [MemberData(nameof(StoriesEngines.Both), MemberType = typeof(StoriesEngines))]
    public void Disposing_the_model_cache_while_readers_run_gives_their_rows_or_ObjectDisposedException(string engine)
    {
        var ml = new MLContext(seed: 1);
        IDataView data = ml.Data.LoadFromEnumerable(Rows);
        var cache = new LlamaModelCache();
        ITransformer transformer = Fit(ml, Reference(engine, cache), data);
        string[] cursorRows = ReadAll(ml, transformer, data), predictedRows = PredictAll(ml, transformer);
        using var everyReaderBusy = new CountdownEvent(Readers);

        Concurrently.Run(Readers, reader =>
        {
            for (int k = 0; ; k++)
            {
                Assert.True(k < 100_000, $"reader {reader} never saw the disposal");
                try
                {
                    string[] rows = reader % 2 == 0 ? ReadAll(ml, transformer, data) : PredictAll(ml, transformer);
                    Assert.Equal(reader % 2 == 0 ? cursorRows : predictedRows, rows);
                }
                catch (ObjectDisposedException)
                {
                    break;
                }
                if (k == 0) everyReaderBusy.Signal();
            }
        },
        meanwhile: () =>
        {
            Concurrently.Await(everyReaderBusy.WaitHandle, "every reader to finish a read");
            cache.Dispose();
        });

        Assert.Throws<ObjectDisposedException>(() => ReadAll(ml, transformer, data));
    }
}
