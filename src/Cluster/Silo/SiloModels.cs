using System.Collections.Concurrent;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cluster.Silo;

/// <summary>
/// The models a silo has loaded, each once for the silo's lifetime and shared by every shard and job that names it
/// (loading a model costs far more than embedding a shard of a small one). Models are told apart by the files they
/// resolve to, so a name, a relative and an absolute path of the same model share one copy.
/// </summary>
internal sealed class SiloModels(int threads) : IDisposable
{
    private readonly ConcurrentDictionary<(string Model, string? Tokenizer, EngineKind Engine), Lazy<LoadedModel>> _models = new();

    /// <summary>The model (null: the default), loaded on first use.</summary>
    public LoadedModel Get(string? model, string? tokenizer, EngineKind engine)
    {
        ResolvedModel resolved = ResolvedModel.Resolve(model, tokenizer);
        var key = (resolved.Path, resolved.TokenizerFile, engine);
        Lazy<LoadedModel> lazy = _models.GetOrAdd(key, _ => new Lazy<LoadedModel>(() => LanguageModels.Open(resolved, engine, new EngineOptions { Threads = threads })));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A model that failed to load is tried again next time rather than remembered.
            _models.TryRemove(new KeyValuePair<(string, string?, EngineKind), Lazy<LoadedModel>>(key, lazy));
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
