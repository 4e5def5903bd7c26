package dev.forkd.daemon.admission;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AdmissionTest {
  @Test
  void theBudgetRefusesWhatDoesNotFitAndTakesBackWhatWasCharged() {
    ByteBudget b = new ByteBudget(100);
    assertTrue(b.tryCharge(60));
    assertFalse(b.tryCharge(41));
    assertEquals(1, b.refused());
    assertTrue(b.tryCharge(40));
    assertEquals(100, b.used());
    b.release(60);
    assertTrue(b.tryCharge(60));
    b.release(100);
    assertEquals(0, b.used());
    assertThrows(IllegalStateException.class, () -> b.release(1));
  }

  @Test
  void slotsAreGrantedInOrderAndOneIdentityHoldsAtMostItsShare() {
    ReceptionGate g = new ReceptionGate(2, 1);
    List<String> granted = new ArrayList<>();
    ReceptionGate.Ticket a1 = g.enter("a", t -> granted.add("a1"));
    ReceptionGate.Ticket a2 = g.enter("a", t -> granted.add("a2"));
    ReceptionGate.Ticket b1 = g.enter("b", t -> granted.add("b1"));
    ReceptionGate.Ticket c1 = g.enter("c", t -> granted.add("c1"));
    // a2 waits for a's one slot; b1 takes the second slot although it came later.
    assertEquals(List.of("a1", "b1"), granted);
    assertEquals(2, g.waiting());
    a1.close();
    // The freed slot goes to the first waiter that may hold one: a2.
    assertEquals(List.of("a1", "b1", "a2"), granted);
    // A waiter that leaves is not granted later.
    c1.close();
    b1.close();
    a2.close();
    assertEquals(List.of("a1", "b1", "a2"), granted);
    assertEquals(0, g.inUse());
    assertEquals(0, g.waiting());
    // Closing twice gives back one slot.
    ReceptionGate.Ticket x = g.enter("x", t -> {});
    x.close();
    x.close();
    assertEquals(0, g.inUse());
  }
}
