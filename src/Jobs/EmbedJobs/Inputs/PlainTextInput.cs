namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>One text per line (\n, \r\n or \r). A final line break does not start another row.</summary>
internal static class PlainTextInput
{
    public static IEnumerable<string> Read(string path)
    {
        using StreamReader reader = EmbedInputs.OpenText(path);
        while (reader.ReadLine() is { } line)
            yield return line;
    }
}
