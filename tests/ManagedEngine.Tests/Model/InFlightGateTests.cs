using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.ManagedEngine.Tests.Model;

/// <summary>
/// The gate that lets a model be disposed under load: the release runs once, only after the last call in flight has
/// left, and a closed gate refuses new calls with <see cref="ObjectDisposedException"/>.
/// </summary>
public class InFlightGateTests
{
    private sealed class Owner;

    [Fact]
    public void Closing_an_idle_gate_releases_at_once_and_only_once()
    {
        int releases = 0;
        var gate = new InFlightGate(new Owner(), () => releases++);
        gate.Close();
        gate.Close();
        Assert.Equal(1, releases);
        Assert.True(gate.IsClosed);
    }

    [Fact]
    public void A_call_in_flight_defers_the_release_to_its_exit_and_later_calls_are_refused()
    {
        int releases = 0;
        var gate = new InFlightGate(new Owner(), () => releases++);
        gate.Enter();
        gate.Enter();
        gate.Close();
        Assert.Equal(0, releases);

        var refused = Assert.Throws<ObjectDisposedException>(gate.Enter);
        Assert.Contains(nameof(Owner), refused.ObjectName);
        Assert.Throws<ObjectDisposedException>(gate.ThrowIfClosed);
        Assert.Equal(0, releases);   // the refused call neither released nor disturbed the count

        gate.Exit();
        Assert.Equal(0, releases);
        gate.Exit();
        Assert.Equal(1, releases);
        Assert.Throws<ObjectDisposedException>(gate.Enter);
        Assert.Equal(1, releases);
    }

    [Fact]
    public void Under_racing_calls_the_release_runs_once_with_no_call_inside()
    {
        for (int round = 0; round < 50; round++)
        {
            int inside = 0, releases = 0, insideAtRelease = -1;
            var gate = new InFlightGate(new Owner(), () =>
            {
                insideAtRelease = Volatile.Read(ref inside);
                Interlocked.Increment(ref releases);
            });
            using var go = new ManualResetEventSlim();
            Thread[] callers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
            {
                go.Wait();
                while (true)
                {
                    try
                    {
                        gate.Enter();
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                    Interlocked.Increment(ref inside);
                    Thread.SpinWait(20);
                    Interlocked.Decrement(ref inside);
                    gate.Exit();
                }
            })).ToArray();
            foreach (Thread caller in callers) caller.Start();
            go.Set();
            Thread.SpinWait(1000 * (round % 5 + 1));
            gate.Close();
            Assert.All(callers, caller => Assert.True(caller.Join(TimeSpan.FromSeconds(60)), "a caller did not stop after the gate closed"));
            Assert.Equal(1, releases);
            Assert.Equal(0, insideAtRelease);
        }
    }
}
