/// A duration read on every request and changed in place by a reload, without a lock.
package typealias DurationSetting = Reloadable<Duration>
