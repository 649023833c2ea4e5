using System.Diagnostics;

namespace Iwae.Bench;

/// <summary>
/// `quick cores`: how fast two threads of this process talk. Two threads bounce a cache line (round trip in ns),
/// then one reads 1 MB that the other has just written (us per MB), three times. On the development VM the
/// steps on two threads are fast when the round trip is ~75 ns and 2-3 times slower at small k when it is
/// 230-330 ns: the README's "slow stretches".
/// </summary>
public static class CoreProbe
{
    private static long s_flag;
    private static readonly long[] Data = new long[1 << 17];     // 1 MB

    public static void Run(string[] args)
    {
        for (int rep = 0; rep < 3; rep++)
            Console.WriteLine(FormattableString.Invariant(
                $"cores roundtrip_ns={Exchange(200_000, withData: false) * 1e9:F0} transfer_1mb_us={Exchange(2000, withData: true) * 1e6:F1}"));
    }

    /// <summary>
    /// Mean seconds per exchange, over <paramref name="n"/>: this thread hands a flag to another and waits for it back.
    /// <paramref name="withData"/>: before each hand-off this thread writes one value per cache line of 1 MB, and the
    /// other thread reads them all before handing back.
    /// </summary>
    private static double Exchange(int n, bool withData)
    {
        Volatile.Write(ref s_flag, 0);
        long sink = 0;
        var other = new Thread(() =>
        {
            for (long i = 1; i <= 2L * n; i += 2)
            {
                while (Volatile.Read(ref s_flag) != i) Thread.SpinWait(1);
                if (withData)
                {
                    long sum = 0;
                    for (int j = 0; j < Data.Length; j += 8) sum += Data[j];
                    sink += sum;
                }
                Volatile.Write(ref s_flag, i + 1);
            }
        });
        other.Start();
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < 2L * n; i += 2)
        {
            if (withData)
                for (int j = 0; j < Data.Length; j += 8) Data[j] = i;
            Volatile.Write(ref s_flag, i + 1);
            while (Volatile.Read(ref s_flag) != i + 2) Thread.SpinWait(1);
        }
        double seconds = sw.Elapsed.TotalSeconds / n;
        other.Join();
        GC.KeepAlive(sink);
        return seconds;
    }
}
