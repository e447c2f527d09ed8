using System.Text.Json;
using MlPipelines.ManagedEngine.IO;

namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>Reads the small JSON files beside Hugging Face weights (config.json, the shard index).</summary>
internal static class SmallJsonFile
{
    /// <summary>
    /// Reads <paramref name="path"/>, which must hold a JSON object of at most <paramref name="maxBytes"/>
    /// bytes (the size is checked before anything is allocated). Dispose the result.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest size accepted.</param>
    /// <param name="expected">What the file should hold, for messages (e.g. "a Hugging Face model configuration").</param>
    /// <exception cref="InvalidDataException">The file is too large, not JSON, or not an object.</exception>
    public static JsonDocument ReadObject(string path, long maxBytes, string expected)
    {
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1))
        {
            long length = stream.Length;
            if (length > maxBytes)
                throw new InvalidDataException($"{path}: file length {length} bytes exceeds the {maxBytes} bytes accepted for {expected}");
            bytes = new byte[length];
            stream.ReadExactly(bytes);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); expected {expected}");
        }
        try
        {
            JsonText.CheckStrings(bytes, document.RootElement, message => new InvalidDataException($"{path}: {message}; expected {expected}"));
        }
        catch
        {
            document.Dispose();
            throw;
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            string kind = document.RootElement.ValueKind.ToString().ToLowerInvariant();
            document.Dispose();
            throw new InvalidDataException($"{path}: the file holds a JSON {kind}; expected {expected} (a JSON object)");
        }
        return document;
    }
}
