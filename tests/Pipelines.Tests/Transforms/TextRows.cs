using Microsoft.ML;
using Microsoft.ML.Data;

namespace MlPipelines.Pipelines.Tests.Transforms;

public sealed class TextRow
{
    public string Text { get; set; } = "";
}

/// <summary>Varied test texts: stories, punctuation, digits, non-ASCII, empty and long rows.</summary>
internal static class TextRows
{
    private static readonly string[] Subjects = ["Lily", "Tom", "the little dog", "a big red ball", "Mom", "the old tree", "Ben and Sue", "the cat"];
    private static readonly string[] Verbs = ["saw", "wanted to play with", "was happy about", "ran to", "found", "did not like", "looked at", "shared"];
    private static readonly string[] Objects = ["the park.", "a shiny stone!", "the sun, the moon and 3 stars.", "her toy car?", "the café — très joli.",
        "42 apples", "a \"secret\" box", "the rainbow 🌈"];

    public static List<string> Varied(int count)
    {
        var texts = new List<string> { "", "Once upon a time", "x", "One day, a girl named Lily went to the park. She saw a big dog. The dog was friendly." };
        for (int i = 0; texts.Count < count; i++)
            texts.Add($"{Subjects[i % Subjects.Length]} {Verbs[i / 3 % Verbs.Length]} {Objects[i / 7 % Objects.Length]}" + (i % 5 == 0 ? $" Number {i}." : ""));
        return texts;
    }

    public static IDataView Load(MLContext ml, IEnumerable<string> texts) =>
        ml.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }).ToList());

    public static List<T> Column<T>(IDataView data, string column) =>
        data.GetColumn<T>(data.Schema[column]).ToList();
}
