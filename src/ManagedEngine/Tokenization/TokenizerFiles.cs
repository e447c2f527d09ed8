namespace MlPipelines.ManagedEngine.Tokenization;

/// <summary>Reads tokenizer files with a size check before anything is allocated.</summary>
internal static class TokenizerFiles
{
    public static byte[] ReadAll(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"Tokenizer file '{path}' does not exist.", path);
        if (info.Length > Llama2cTokenizer.MaxFileBytes)
            throw new InvalidDataException($"'{path}' is {info.Length} bytes; a tokenizer file is expected to be at most {Llama2cTokenizer.MaxFileBytes} bytes.");
        return File.ReadAllBytes(path);
    }
}
