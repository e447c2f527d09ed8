using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MlPipelines.Pipelines.Transforms;

/// <summary>
/// A seed drawn from an <see cref="MLContext"/>'s random source, as ML.NET's own components draw theirs: the same
/// for the same <c>new MLContext(seed: s)</c> and the same sequence of calls; random for an unseeded context.
/// </summary>
/// <remarks>
/// ML.NET keeps a catalog's environment behind an internal interface (<c>IInternalCatalog</c>) and offers no public
/// accessor, so it is read here by reflection; if a future ML.NET hides it differently, the options' default seed is
/// used instead (still deterministic).
/// </remarks>
internal static class MLContextSeed
{
    public static ulong? Draw(TransformsCatalog.TextTransforms catalog)
    {
        try
        {
            PropertyInfo? environment = catalog.GetType().GetInterfaces()
                .Where(i => i.Name == "IInternalCatalog")
                .Select(i => i.GetProperty("Environment", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                .FirstOrDefault(p => p is not null);
            if (environment?.GetValue(catalog) is not IHostEnvironment env)
                return null;
            IHost host = env.Register(nameof(LlamaCatalogExtensions.GenerateWithLlama));
            return LlamaGenerateEstimator.NonZero((ulong)host.Rand.NextInt64(long.MaxValue));
        }
        catch (Exception e) when (e is TargetInvocationException or MemberAccessException or InvalidOperationException)
        {
            return null;
        }
    }
}
