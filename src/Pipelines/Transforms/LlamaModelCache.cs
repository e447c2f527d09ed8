using System.Collections.Concurrent;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// The loaded models that transforms share: a model named by several transforms with the same settings is loaded once
/// per cache. References use <see cref="Shared"/> unless given a cache of their own; dispose a cache (or
/// <see cref="Clear"/> the shared one) to release its models once no transform that uses them is being read.
/// </summary>
public sealed class LlamaModelCache : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<LoadedModel>> _models = new();
    private bool _disposed;

    /// <summary>The process-wide cache references use by default.</summary>
    public static LlamaModelCache Shared { get; } = new();

    /// <summary>How many models are loaded (or loading).</summary>
    public int Count => _models.Count;

    internal LoadedModel GetOrOpen(string key, Func<LoadedModel> open)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Lazy<LoadedModel> lazy = _models.GetOrAdd(key, _ => new Lazy<LoadedModel>(open, LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _models.TryRemove(new KeyValuePair<string, Lazy<LoadedModel>>(key, lazy));   // let a fixed file load next time
            throw;
        }
    }

    /// <summary>Releases every model loaded so far; later reads load them again.</summary>
    public void Clear()
    {
        foreach (string key in _models.Keys.ToList())
            if (_models.TryRemove(key, out Lazy<LoadedModel>? lazy) && lazy.IsValueCreated)
                lazy.Value.Dispose();
    }

    /// <summary>Releases the models; the cache cannot be used afterwards. The <see cref="Shared"/> cache is only cleared.</summary>
    public void Dispose()
    {
        Clear();
        if (!ReferenceEquals(this, Shared))
            _disposed = true;
    }
}
