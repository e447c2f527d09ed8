using System.Collections.Concurrent;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cluster.Silo;

/// <summary>
/// The models a silo has loaded, each once for the silo's lifetime and shared by every shard and job that names it
/// (loading a model costs far more than embedding a shard of a small one).
/// </summary>
internal sealed class SiloModels(int threads) : IDisposable
{
    private readonly ConcurrentDictionary<(string? Model, string? Tokenizer, EngineKind Engine), Lazy<LoadedModel>> _models = new();

    /// <summary>The model (null: the default), loaded on first use.</summary>
    public LoadedModel Get(string? model, string? tokenizer, EngineKind engine)
    {
        Lazy<LoadedModel> lazy = _models.GetOrAdd((model, tokenizer, engine),
            key => new Lazy<LoadedModel>(() => LanguageModels.Open(key.Model, key.Tokenizer, key.Engine, new EngineOptions { Threads = threads })));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A model that failed to load (missing on this machine, say) is tried again next time rather than remembered.
            _models.TryRemove(new KeyValuePair<(string?, string?, EngineKind), Lazy<LoadedModel>>((model, tokenizer, engine), lazy));
            throw;
        }
    }

    public void Dispose()
    {
        foreach (Lazy<LoadedModel> model in _models.Values)
            if (model.IsValueCreated) model.Value.Dispose();
        _models.Clear();
    }
}
