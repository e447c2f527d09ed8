using Microsoft.ML;
using MlPipelines.Pipelines.Transforms;
using MlPipelines.Tests.Support;

namespace MlPipelines.Pipelines.Tests.Transforms;

/// <summary>A model cache the user scopes: transforms share one load per cache, and disposing it releases the model.</summary>
public class ModelCacheTests
{
    [Fact]
    public void Transforms_share_one_load_per_cache_and_a_disposed_cache_releases_it()
    {
        var ml = new MLContext(seed: 1);
        IDataView data = TextRows.Load(ml, ["Once upon a time"]);
        var cache = new LlamaModelCache();
        var model = LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin).WithCache(cache);

        ITransformer fitted = ml.Transforms.Text.TokenizeWithLlama(model, "Tokens", "Text")
            .Append(ml.Transforms.Text.EmbedWithLlama(model, "E", "Text")).Fit(data);
        _ = TextRows.Column<Microsoft.ML.Data.VBuffer<float>>(fitted.Transform(data), "E");
        Assert.Equal(1, cache.Count);
        Assert.Same(model.Open(), model.Open());
        Assert.NotSame(model.Open(), LlamaModelReference.Managed(TestPaths.Stories260K, TestPaths.Tok512Bin).Open());   // another cache

        var before = model.Open();
        cache.Clear();
        Assert.Equal(0, cache.Count);
        Assert.NotSame(before, model.Open());      // loaded again after clearing

        cache.Dispose();
        Assert.Throws<ObjectDisposedException>(() => model.Open());
    }
}
