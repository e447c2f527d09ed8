namespace MlPipelines.OnnxEngine;

/// <summary>
/// The requested execution provider cannot be used by the ONNX Runtime build this program runs on.
/// The message says which package to reference, and on which platforms it works.
/// </summary>
public sealed class ExecutionProviderUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="provider"/>.</summary>
    public ExecutionProviderUnavailableException(ExecutionProvider provider, string message, Exception? inner = null)
        : base(message, inner)
    {
        Provider = provider;
    }

    /// <summary>The provider that was asked for.</summary>
    public ExecutionProvider Provider { get; }
}
