namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>Reads tokenizer files with a size check before anything is allocated.</summary>
internal static class TokenizerFiles
{
    /// <summary>
    /// Upper bound on a Hugging Face tokenizer.json (or tokenizer_config.json) read into memory: the
    /// largest common ones (Gemma's, with 262k tokens) are about 35 MB; parsing holds the text and its
    /// JSON document at once, so the bound is kept well below llama2.c's.
    /// </summary>
    internal const long MaxJsonBytes = 128L << 20;

    public static byte[] ReadAll(string path) => ReadAll(path, Llama2cTokenizer.MaxFileBytes);

    public static byte[] ReadAll(string path, long maxBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        if (info.Length > maxBytes)
            throw new InvalidDataException($"'{path}' is {info.Length} bytes; a tokenizer file is expected to be at most {maxBytes} bytes.");
        return File.ReadAllBytes(path);
    }
}
