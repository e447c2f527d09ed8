namespace MlPipelines.AI.Tests;

/// <summary>Stop sequences over text arriving in pieces: nothing of a stop sequence is ever released.</summary>
public class StopSequenceFilterTests
{
    private static (string Text, bool Stopped) Run(string[] pieces, params string[] stops)
    {
        var filter = new StopSequenceFilter(stops);
        string text = string.Concat(pieces.Select(p => filter.Append(p))) + filter.Finish();
        return (text, filter.Stopped);
    }

    [Fact]
    public void A_stop_sequence_split_across_pieces_is_cut_and_never_released()
    {
        var filter = new StopSequenceFilter(["END"]);
        Assert.Equal("ab", filter.Append("abE"));   // "E" may begin END: held back
        Assert.Equal("", filter.Append("N"));
        Assert.Equal("", filter.Append("Dxyz"));
        Assert.True(filter.Stopped);
        Assert.Equal("", filter.Finish());
    }

    [Fact]
    public void Held_back_text_that_does_not_complete_a_stop_is_released()
    {
        Assert.Equal(("abENx and EN", false), Run(["abE", "Nx", " and EN"], "END"));
    }

    [Fact]
    public void The_earliest_of_several_stops_wins_and_overlapping_prefixes_are_handled()
    {
        Assert.Equal(("x", true), Run(["xab", "abab"], "abab", "bab"));   // "xababab": abab starts at 1, before bab at 2
        Assert.Equal(("hello ", true), Run(["hello w", "orld"], "world", "orl"));
        Assert.Equal(("no stops here", false), Run(["no stops", " here"]));
    }
}
